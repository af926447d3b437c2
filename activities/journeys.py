"""Reading stored journey definitions for `sub_journey` nodes."""

from __future__ import annotations

import uuid

from temporalio import activity
from temporalio.exceptions import ApplicationError

from journey.contracts.runs import LOAD_JOURNEY, JourneySnapshot, LoadJourneyInput
from journey.core.db.engine import SessionFactory
from journey.core.db.models import Workflow
from journey.services.definitions import snapshot_of


class JourneyActivities:
    def __init__(self, session_factory: SessionFactory) -> None:
        self._session_factory = session_factory

    @activity.defn(name=LOAD_JOURNEY)
    def load_journey(self, request: LoadJourneyInput) -> JourneySnapshot:
        try:
            key = uuid.UUID(request.journey_id)
        except ValueError as exc:
            raise ApplicationError(
                f"journey id {request.journey_id!r} is not a UUID",
                type="UnknownJourney",
                non_retryable=True,
            ) from exc
        with self._session_factory() as session:
            row = session.get(Workflow, key)
        if row is None:
            raise ApplicationError(
                f"journey {request.journey_id} does not exist",
                type="UnknownJourney",
                non_retryable=True,
            )
        return snapshot_of(row)

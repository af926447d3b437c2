"""The consumer's view of the enabled triggers, reloaded every few seconds.

Reading triggers per event would put a query in front of every message; a snapshot that is at
most `trigger_refresh_seconds` old makes a new or edited trigger effective within seconds
without that cost. While the database is down the last snapshot keeps serving.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from pydantic import ValidationError
from sqlmodel import col, select

from dsl.triggers import TriggerRule, event_type_matches
from journey.contracts.runs import JourneySnapshot
from journey.core.db.engine import SessionFactory
from journey.core.db.models import Trigger, Workflow
from journey.services.definitions import snapshot_of
from journey.services.triggers import rule_of

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LiveTrigger:
    """An enabled trigger with the journey it starts (None when that journey is gone)."""

    id: str
    name: str
    rule: TriggerRule
    journey_row: Workflow | None
    journey: JourneySnapshot | None

    @property
    def journey_active(self) -> bool:
        return self.journey_row is not None and self.journey_row.status == "active"


def load_triggers(session_factory: SessionFactory) -> list[LiveTrigger]:
    with session_factory() as session:
        rows = session.exec(
            select(Trigger, Workflow)
            .join(Workflow, col(Trigger.workflow_id) == col(Workflow.id), isouter=True)
            .where(col(Trigger.enabled).is_(True))
            .order_by(col(Trigger.created_at))
        ).all()
        loaded: list[LiveTrigger] = []
        for trigger, journey in rows:
            try:
                rule = rule_of(trigger)
                snapshot = snapshot_of(journey) if journey is not None else None
            except ValidationError as exc:  # rows are written validated; say so if one is not
                log.error("ignoring trigger %s (%s): %s", trigger.id, trigger.name, exc)
                continue
            loaded.append(LiveTrigger(str(trigger.id), trigger.name, rule, journey, snapshot))
        # Detached for use after the session; one journey may serve several triggers.
        session.expunge_all()
    return loaded


class TriggerCache:
    def __init__(
        self,
        session_factory: SessionFactory,
        refresh_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._session_factory = session_factory
        self._refresh_seconds = refresh_seconds
        self._clock = clock
        self._loaded_at: float | None = None
        self._triggers: list[LiveTrigger] = []

    def is_stale(self, now: float | None = None) -> bool:
        """Whether the next `refresh_if_stale` reloads: never loaded, or loaded at least
        `refresh_seconds` ago. Tests wait on it rather than sleep for a guessed interval."""
        if self._loaded_at is None:
            return True
        return (self._clock() if now is None else now) - self._loaded_at >= self._refresh_seconds

    def refresh_if_stale(self) -> None:
        """Reload when older than the refresh interval. Raises only before the first load."""
        now = self._clock()
        if not self.is_stale(now):
            return
        try:
            self._triggers = load_triggers(self._session_factory)
        except Exception:
            if self._loaded_at is None:
                raise
            log.warning("could not reload triggers; using the ones loaded before", exc_info=True)
            return
        self._loaded_at = now

    def matching(self, event_type: str) -> list[LiveTrigger]:
        return [t for t in self._triggers if event_type_matches(t.rule.event_type, event_type)]

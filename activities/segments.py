"""The steps of a segment refresh (journey/services/segments/refresh.py explains the protocol).

Database steps are synchronous (`def`, run on the worker's thread pool); publishing awaits the
brokers' acknowledgement. Each step is one activity, so the diff a step applies and publishes
is recorded in the workflow's history and a retry works from exactly the same changes.
"""

from __future__ import annotations

import logging
import uuid

from confluent_kafka import Producer
from temporalio import activity

from journey.contracts.segments import (
    APPLY_SEGMENT_CHANGES,
    LIST_SEGMENTS,
    PUBLISH_SEGMENT_EVENTS,
    RENEW_SEGMENT,
    SEGMENT_CHANGES,
    ApplySegmentChangesInput,
    ListSegmentsInput,
    PublishSegmentEventsInput,
    RenewSegmentInput,
    SegmentChanges,
    SegmentChangesInput,
    SegmentRef,
)
from journey.core.config import Settings
from journey.core.db.engine import SessionFactory
from journey.core.db.models import UserSegment
from journey.services.segments import refresh
from journey.services.segments.service import InvalidDefinition, definition_of, get_segment
from journey.services.segments.service import list_segments as stored_segments

__all__ = ["SegmentActivities"]

log = logging.getLogger(__name__)


def _key(segment_id: str) -> uuid.UUID:
    return uuid.UUID(segment_id)


class SegmentActivities:
    def __init__(self, settings: Settings, session_factory: SessionFactory, producer: Producer):
        self._settings = settings
        self._session_factory = session_factory
        self._producer = producer

    @activity.defn(name=LIST_SEGMENTS)
    def list_segments(self, request: ListSegmentsInput) -> list[SegmentRef]:
        wanted = set(request.segment_ids) if request.segment_ids is not None else None
        with self._session_factory() as session:
            rows, _ = stored_segments(session, limit=2**31 - 1)
            return [
                SegmentRef(id=str(row.id), name=row.name)
                for row in rows
                if wanted is None or str(row.id) in wanted
            ]

    @activity.defn(name=SEGMENT_CHANGES)
    def segment_changes(self, request: SegmentChangesInput) -> SegmentChanges:
        limit = self._settings.segment_refresh_batch_size
        with self._session_factory() as session:
            row = get_segment(session, segment_id=_key(request.segment_id))
            if row is None:
                return SegmentChanges(found=False)
            try:
                definition = definition_of(row)
            except InvalidDefinition as exc:  # retrying cannot help; the others go on
                log.error("not refreshing: %s", exc)
                return SegmentChanges(found=False)
            changes = refresh.pending_changes(
                session, segment_id=row.id, definition=definition, limit=limit
            )
        complete = len(changes.entered) < limit and len(changes.exited) < limit
        return SegmentChanges(entered=changes.entered, exited=changes.exited, complete=complete)

    @activity.defn(name=APPLY_SEGMENT_CHANGES)
    def apply_segment_changes(self, request: ApplySegmentChangesInput) -> None:
        with self._session_factory() as session:
            if session.get(UserSegment, _key(request.segment_id)) is None:
                return  # deleted meanwhile: its rows went with it
            refresh.apply_changes(
                session,
                segment_id=_key(request.segment_id),
                entered=request.entered,
                exited=request.exited,
                evaluated_at=request.evaluated_at,
                valid_until=refresh.valid_until(
                    request.evaluated_at, self._settings.segment_membership_ttl_seconds
                ),
            )

    @activity.defn(name=PUBLISH_SEGMENT_EVENTS)
    async def publish_segment_events(self, request: PublishSegmentEventsInput) -> int:
        events = refresh.segment_events(
            segment=request.segment,
            entered=request.entered,
            exited=request.exited,
            event_key=request.event_key,
            timestamp=request.timestamp,
        )
        topic = self._settings.kafka_events_topic
        return await refresh.publish(self._producer, topic=topic, events=events)

    @activity.defn(name=RENEW_SEGMENT)
    def renew_segment_memberships(self, request: RenewSegmentInput) -> int:
        ttl = self._settings.segment_membership_ttl_seconds
        with self._session_factory() as session:
            return refresh.renew(
                session,
                segment_id=_key(request.segment_id),
                valid_until=refresh.valid_until(request.evaluated_at, ttl),
            )

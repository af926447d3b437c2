"""Keeping `user_segment_memberships` current, and telling Kafka who entered and who left.

A refresh of one segment is a loop of small steps (run by workflows/segments.py through
activities/segments.py, so each step is retried on its own and its input is in history):

1. `pending_changes` (read only): members by SQL that have no cached row (entered) and cached
   rows whose user is no longer a member (exited), at most `limit` of each.
2. `apply_changes`: one transaction inserting rows for exactly those entered users that still
   exist and deleting the exited rows. Idempotent, so a retry after a crash that came after
   the commit changes nothing more.
3. `segment_events` + `publish`: one `segment.entered` / `segment.exited` envelope per change on
   the events topic, keyed by user id, produced only after step 2 committed and acknowledged by
   the brokers (acks=all). Ids are UUIDv5 of `<type>:<segment>:<user>:<event key>`, the event
   key being the refresh run's key plus the step number, so a retried step publishes the same
   ids and consumers (Journey's ingest) record each change once: at least once, deduplicated.
4. When no change is left: `renew` stamps every cached row of the segment with the refresh time
   and `valid_until` = that time + `segment_membership_ttl_seconds`.

Events are the cache's transitions, so a user's events alternate entered/exited even when a
step works from a diff that has gone stale (the next refresh corrects the cache and emits the
matching event). Users deleted from `users` lose their rows by cascade and get no exit event.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from confluent_kafka import Producer
from sqlalchemy import Uuid, delete, exists, insert, literal, update
from sqlmodel import Session, col, select

from dsl.events import EventEnvelope
from journey.core.db.models import User, UserSegment, UserSegmentMembership
from journey.core.db.types import UTCDateTime
from journey.core.kafka.clients import produce_many
from journey.services.segments.service import Definition, clause

__all__ = [
    "SEGMENT_ENTERED",
    "SEGMENT_EXITED",
    "Changes",
    "apply_changes",
    "event_id",
    "pending_changes",
    "publish",
    "renew",
    "segment_events",
]

SEGMENT_ENTERED = "segment.entered"
SEGMENT_EXITED = "segment.exited"
# Fixed forever: changing it would give a retried step new event ids.
EVENT_ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:journey:segment-event")
PRODUCE_TIMEOUT_SECONDS = 30.0
Membership = UserSegmentMembership


@dataclass(frozen=True)
class Changes:
    entered: list[str]
    exited: list[str]

    @property
    def empty(self) -> bool:
        return not self.entered and not self.exited


def _cached(segment_id: uuid.UUID) -> Any:
    """A membership row of the segment for the user of the enclosing query."""
    return exists().where(
        col(Membership.segment_id) == segment_id, col(Membership.user_id) == col(User.id)
    )


def pending_changes(
    session: Session, *, segment_id: uuid.UUID, definition: Definition, limit: int
) -> Changes:
    """Who entered and who left since the cached rows were written (at most `limit` each)."""
    members = clause(session, definition)
    entered = session.exec(
        select(User.id).where(members, ~_cached(segment_id)).order_by(col(User.id)).limit(limit)
    ).all()
    still_member = exists().where(col(User.id) == col(Membership.user_id), members)
    exited = session.exec(
        select(Membership.user_id)
        .where(col(Membership.segment_id) == segment_id, ~still_member)
        .order_by(col(Membership.user_id))
        .limit(limit)
    ).all()
    return Changes(list(entered), list(exited))


def apply_changes(
    session: Session,
    *,
    segment_id: uuid.UUID,
    entered: Sequence[str],
    exited: Sequence[str],
    evaluated_at: datetime,
    valid_until: datetime,
) -> None:
    """Cache `entered` (those still in `users` and not cached yet) and drop `exited`."""
    if entered:
        rows = select(
            col(User.id),
            literal(segment_id, Uuid),
            literal(evaluated_at, UTCDateTime),
            literal(valid_until, UTCDateTime),
        ).where(col(User.id).in_(list(entered)), ~_cached(segment_id))
        columns = ["user_id", "segment_id", "evaluated_at", "valid_until"]
        session.execute(insert(Membership).from_select(columns, rows))
    if exited:
        session.execute(
            delete(Membership).where(
                col(Membership.segment_id) == segment_id,
                col(Membership.user_id).in_(list(exited)),
            )
        )
    session.commit()


def renew(session: Session, *, segment_id: uuid.UUID, valid_until: datetime) -> int:
    """Extend every cached row of the segment to `valid_until`; the number of rows.

    `evaluated_at` keeps the time the row was written, i.e. when the user entered the
    segment: the segment conversion metric counts its window from there."""
    result = session.execute(
        update(Membership)
        .where(col(Membership.segment_id) == segment_id)
        .values(valid_until=valid_until)
    )
    session.commit()
    return int(getattr(result, "rowcount", 0) or 0)


def valid_until(evaluated_at: datetime, ttl_seconds: float) -> datetime:
    return evaluated_at + timedelta(seconds=ttl_seconds)


def event_id(kind: str, *, segment_id: str, user_id: str, event_key: str) -> str:
    return str(uuid.uuid5(EVENT_ID_NAMESPACE, f"{kind}:{segment_id}:{user_id}:{event_key}"))


def segment_events(
    *,
    segment: UserSegment | Any,
    entered: Sequence[str],
    exited: Sequence[str],
    event_key: str,
    timestamp: datetime,
) -> list[EventEnvelope]:
    """The envelopes of one step's changes (`segment` has `id` and `name`)."""
    properties = {"segment_id": str(segment.id), "segment_name": segment.name}
    events = []
    for kind, user_ids in ((SEGMENT_ENTERED, entered), (SEGMENT_EXITED, exited)):
        for user_id in user_ids:
            identifier = event_id(
                kind, segment_id=str(segment.id), user_id=user_id, event_key=event_key
            )
            events.append(
                EventEnvelope(
                    id=identifier,
                    type=kind,
                    user_id=user_id,
                    timestamp=timestamp,
                    properties=properties,
                )
            )
    return events


async def publish(producer: Producer, *, topic: str, events: Sequence[EventEnvelope]) -> int:
    """Produce the envelopes keyed by user id; returns once the brokers acknowledged all."""
    messages = [(event.user_id, event.model_dump(mode="json")) for event in events]
    if messages:
        await produce_many(producer, topic, messages, timeout=PRODUCE_TIMEOUT_SECONDS)
    return len(messages)

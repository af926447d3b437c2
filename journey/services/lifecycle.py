"""Moving a user between lifecycle stages: one function for journeys and the API alike.

`transition_stage` is the whole of a stage change inside the caller's transaction: the user's
`current_lifecycle_stage`, a `user_lifecycle_history` row and a `lifecycle_events` audit row of
type `lifecycle.stage_changed`. It never commits, so the journey action can commit the change
together with its effect-ledger row, and the API together with nothing else.

Each change is also announced on the events topic as a `lifecycle.stage_changed` envelope
(properties `from_stage`, `to_stage`, `reason`, `source`), so triggers can start journeys when a
user enters a stage. The envelope is published only after the commit (`publish_stage_changed`):
a change that rolled back is never announced, and a crash between commit and publish is repaired
by publishing again, which is harmless because the envelope id is deterministic and consumers
deduplicate by id. The id comes from a key the caller names (the action's effect key, so a
retried activity republishes the same id) or else from the new history row. The audit row
carries the same id in `event_id` (how a retry finds the envelope to publish again), and the
id is claimed in `ingested_events`, so the consumer sees the envelope as already recorded.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Producer
from sqlmodel import Session, col, select

from dsl.document import JourneyDocument
from dsl.events import EventEnvelope
from dsl.stages import LIFECYCLE_STAGES, LifecycleStage
from journey.core.db.models import IngestedEvent, LifecycleEvent, User, UserLifecycleHistory
from journey.core.kafka.clients import KafkaUnavailable
from journey.core.telemetry.messages import trace_headers

__all__ = [
    "STAGE_CHANGED_EVENT",
    "StageTime",
    "TransitionResult",
    "UnknownStage",
    "latest_stage_event",
    "publish_stage_changed",
    "stage_event",
    "stage_event_id",
    "stage_limit_reason",
    "time_in_stages",
    "transition_stage",
]

STAGE_CHANGED_EVENT = "lifecycle.stage_changed"
# Fixed forever: changing it would give a republished change a new id and defeat dedupe.
STAGE_EVENT_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:journey:stage-changed")
# The default of Settings.kafka_ack_timeout_seconds: below the lifecycle_transition activity's
# 15 s attempt timeout (workflows/policies.py).
PUBLISH_TIMEOUT_SECONDS = 10.0


class UnknownStage(ValueError):
    """A stage name outside the five lifecycle stages."""


@dataclass(frozen=True)
class TransitionResult:
    from_stage: str | None
    to_stage: str
    changed: bool
    history: UserLifecycleHistory | None = None
    # What to publish once the transaction committed; None for a no-op.
    event: EventEnvelope | None = None


def stage_event_id(key: str) -> str:
    return str(uuid.uuid5(STAGE_EVENT_NAMESPACE, key))


def transition_stage(
    session: Session,
    *,
    user: User,
    to_stage: str,
    reason: str | None,
    details: dict[str, Any],
    source: str,
    execution_id: uuid.UUID | None = None,
    event_key: str | None = None,
) -> TransitionResult:
    """Move `user` (loaded by the caller, ideally `with_for_update`) to `to_stage`; flushes,
    never commits. The current stage again is a no-op: no history row, no event.

    `details` end up in the history row's metadata and the audit row's data, next to `reason`
    and `source` ("journey" or "api"). `event_key` names the change for its envelope id; without
    it the id is derived from the new history row.
    """
    if to_stage not in LIFECYCLE_STAGES:
        raise UnknownStage(
            f"unknown lifecycle stage {to_stage!r}; expected one of {LIFECYCLE_STAGES}"
        )
    from_stage = user.current_lifecycle_stage
    if from_stage == to_stage:
        return TransitionResult(from_stage=from_stage, to_stage=to_stage, changed=False)
    metadata = {**details, "reason": reason, "source": source}
    user.current_lifecycle_stage = to_stage
    history = UserLifecycleHistory(
        user_id=user.id,
        from_stage=from_stage,
        to_stage=to_stage,
        workflow_execution_id=execution_id,
        metadata_=metadata,
    )
    session.add(user)
    session.add(history)
    session.flush()  # the history id, for the event id below
    if event_key is None:
        # The timestamp too: SQLite may hand out a deleted row's id again after an erasure.
        stamp = history.transitioned_at.isoformat() if history.transitioned_at else ""
        event_key = f"user_lifecycle_history:{history.id}:{user.id}:{stamp}"
    event_id = stage_event_id(event_key)
    audit = LifecycleEvent(
        event_type=STAGE_CHANGED_EVENT,
        user_id=user.id,
        workflow_execution_id=execution_id,
        lifecycle_stage=to_stage,
        event_id=event_id,
        event_data={"from_stage": from_stage, "to_stage": to_stage, **metadata},
    )
    session.add(audit)
    # Claim the id as the consumer does (journey/ingest/records.py), so the envelope coming
    # back from Kafka is recognised as recorded instead of becoming a second audit row.
    session.add(IngestedEvent(event_id=event_id))
    session.flush()
    return TransitionResult(
        from_stage=from_stage,
        to_stage=to_stage,
        changed=True,
        history=history,
        event=stage_changed_envelope(audit),
    )


def stage_changed_envelope(row: LifecycleEvent) -> EventEnvelope:
    """The envelope announcing the change an audit row records; the same on every call."""
    data = row.event_data or {}
    assert row.event_id is not None and row.user_id is not None
    properties = {key: data.get(key) for key in ("from_stage", "to_stage", "reason", "source")}
    return EventEnvelope(
        id=row.event_id,
        type=STAGE_CHANGED_EVENT,
        user_id=row.user_id,
        timestamp=row.created_at,
        properties=properties,
    )


def stage_event(session: Session, event_id: str) -> EventEnvelope | None:
    """The envelope of a recorded change by its id (None once the user was erased)."""
    query = select(LifecycleEvent).where(
        LifecycleEvent.event_id == event_id,
        LifecycleEvent.event_type == STAGE_CHANGED_EVENT,
        # The audit row, not a copy the consumer may record when the envelope comes back.
        col(LifecycleEvent.lifecycle_stage).is_not(None),
    )
    row = session.exec(query).first()
    return stage_changed_envelope(row) if row is not None and row.user_id else None


def latest_stage_event(session: Session, *, user_id: str, stage: str) -> EventEnvelope | None:
    """The envelope of the newest change that brought the user into `stage`, if any."""
    query = (
        select(LifecycleEvent)
        .where(
            LifecycleEvent.user_id == user_id,
            LifecycleEvent.event_type == STAGE_CHANGED_EVENT,
            LifecycleEvent.lifecycle_stage == stage,
            col(LifecycleEvent.event_id).is_not(None),
        )
        .order_by(col(LifecycleEvent.created_at).desc(), col(LifecycleEvent.id).desc())
    )
    row = session.exec(query).first()
    return stage_changed_envelope(row) if row is not None else None


def publish_stage_changed(
    producer: Producer,
    topic: str,
    envelope: EventEnvelope,
    *,
    timeout: float = PUBLISH_TIMEOUT_SECONDS,
) -> None:
    """Produce the envelope keyed by user id and block until the brokers acknowledged it.

    Blocking on purpose: callers are the synchronous activity (on the worker's thread pool)
    and synchronous API routes (on FastAPI's). The delivery callback may be served by another
    thread's flush of the shared producer, so completion is awaited on an event."""
    acked = threading.Event()
    errors: list[KafkaError] = []

    def on_delivery(error: KafkaError | None, _message: Any) -> None:
        if error is not None:
            errors.append(error)
        acked.set()

    deadline = time.monotonic() + timeout
    producer.produce(
        topic,
        envelope.model_dump_json().encode(),
        key=envelope.user_id.encode(),
        headers=trace_headers(),
        on_delivery=on_delivery,
    )
    producer.flush(timeout)
    if not acked.wait(max(0.1, deadline - time.monotonic())):
        raise KafkaUnavailable(f"no acknowledgement for event {envelope.id} within {timeout}s")
    if errors:
        raise KafkaException(errors[0])


def stage_limit_reason(document: JourneyDocument | None, stage: str | None) -> str | None:
    """Why a user in `stage` may not start the journey, or None when they may.

    Only journeys with `restrict_to_stages` (and some `lifecycle_stages`) limit who starts
    them. A user without a profile yet counts as Acquisition, the stage a new profile gets."""
    if document is None or not document.restrict_to_stages or not document.lifecycle_stages:
        return None
    current = stage or LifecycleStage.ACQUISITION.value
    allowed = [str(item) for item in document.lifecycle_stages]
    if current in allowed:
        return None
    return f"user stage {current} not in the journey's stages [{', '.join(allowed)}]"


@dataclass(frozen=True)
class StageTime:
    stage: str
    seconds: float
    visits: int


def time_in_stages(
    *,
    created_at: datetime,
    current_stage: str,
    history: Sequence[UserLifecycleHistory],
    now: datetime,
) -> list[StageTime]:
    """Seconds spent in each of the five stages, from the history in transition order.

    The stage before the first transition counts from `created_at`; the current stage counts
    until `now`. Clock skew between writers cannot make a span negative (it counts as 0)."""
    seconds = dict.fromkeys(LIFECYCLE_STAGES, 0.0)
    visits = dict.fromkeys(LIFECYCLE_STAGES, 0)
    stage: str | None = history[0].from_stage if history else current_stage
    since = created_at
    for row in history:
        at = row.transitioned_at or since
        if stage in seconds:
            seconds[stage] += max(0.0, (at - since).total_seconds())
            visits[stage] += 1
        stage, since = row.to_stage, at
    if current_stage in seconds:
        seconds[current_stage] += max(0.0, (now - since).total_seconds())
        visits[current_stage] += 1
    return [StageTime(stage=s, seconds=seconds[s], visits=visits[s]) for s in LIFECYCLE_STAGES]

"""Small database reads and writes of the consumer, inside a caller's session.

The consumer handles an event in two transactions (planner.py): everything it decides before
asking Temporal, then the starts Temporal acknowledged. These helpers do not commit.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, case, insert, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from dsl.events import EventEnvelope
from journey.core.db.models import (
    IngestedEvent,
    LifecycleEvent,
    TriggerExecution,
    User,
    Workflow,
    WorkflowExecution,
    WorkflowVersion,
)
from journey.services import users

ENTERED = ("started", "pending")
OPEN_RUNS = ("pending", "running")

# The statements the consumer runs for every event, built once with bound parameters: building
# a statement and computing its cache key took more CPU than SQLite took to run it. Writes that
# load no objects go to the session's connection, skipping the ORM's bookkeeping.
_DECISION = select(TriggerExecution).where(
    col(TriggerExecution.trigger_id) == bindparam("trigger_id"),
    col(TriggerExecution.event_id) == bindparam("event_id"),
)
_SAME_DEDUPE = select(TriggerExecution).where(
    col(TriggerExecution.trigger_id) == bindparam("trigger_id"),
    col(TriggerExecution.dedupe_key) == bindparam("dedupe_key"),
    col(TriggerExecution.decision).in_(ENTERED),
    col(TriggerExecution.event_id) != bindparam("event_id"),
)
_OPEN_RUNS = select(WorkflowExecution).where(
    col(WorkflowExecution.user_id) == bindparam("user_id"),
    col(WorkflowExecution.status).in_(OPEN_RUNS),
)
# What the dispatcher needs of each open run to decide whether to signal it (no whole rows).
_OPEN_RUN_KEYS = select(
    col(WorkflowExecution.temporal_workflow_id),
    col(WorkflowExecution.workflow_id),
    col(WorkflowExecution.workflow_version),
).where(
    col(WorkflowExecution.user_id) == bindparam("user_id"),
    col(WorkflowExecution.status).in_(OPEN_RUNS),
)
_OPEN_RUNS_OF_JOURNEY = _OPEN_RUNS.where(
    col(WorkflowExecution.workflow_id) == bindparam("journey_id")
)
_RESERVED = select(WorkflowExecution).where(
    col(WorkflowExecution.workflow_id) == bindparam("journey_id"),
    col(WorkflowExecution.idempotency_key) == bindparam("key"),
)
_CLAIM = {
    name: dialect.insert(IngestedEvent)
    .values(event_id=bindparam("claimed"))
    .on_conflict_do_nothing()
    .returning(col(IngestedEvent.event_id))
    for name, dialect in (("sqlite", sqlite), ("postgresql", postgresql))
}
_RECORD = insert(LifecycleEvent)
_STATUS = col(WorkflowExecution.status)
# Bound names differ from the columns they set: SQLAlchemy reserves those for VALUES/SET.
_RUN_STARTED = (
    update(WorkflowExecution)
    .where(col(WorkflowExecution.id) == bindparam("execution_id"))
    .values(
        temporal_run_id=bindparam("run"),
        status=case((_STATUS == "pending", "running"), else_=_STATUS),
    )
)
_DECISION_STARTED = (
    update(TriggerExecution)
    .where(col(TriggerExecution.id) == bindparam("decision_id"))
    .values(decision="started", workflow_execution_id=bindparam("execution"))
)


def add_profile(session: Session, user_id: str, envelope: EventEnvelope) -> None:
    if session.get(User, user_id) is None:
        session.add(users.new_user(session, user_id, envelope.properties))
        session.flush()


def add_event(session: Session, envelope: EventEnvelope) -> bool:
    """Append the event to `lifecycle_events` unless its id was recorded before; True if added.

    The id is claimed in `ingested_events` first (its primary key decides, also between
    concurrent consumers): `lifecycle_events` is partitioned on PostgreSQL and cannot hold a
    unique index on the id alone (migration 0005)."""
    claim = _CLAIM["sqlite" if session.get_bind().dialect.name == "sqlite" else "postgresql"]
    if session.connection().execute(claim, {"claimed": envelope.id}).first() is None:
        return False
    known_user = session.get(User, envelope.user_id) is not None
    row = {
        "event_id": envelope.id,
        "event_type": envelope.type[:100],
        # The FK needs an existing profile; the envelope keeps the id either way.
        "user_id": envelope.user_id if known_user else None,
        "event_data": envelope.model_dump(mode="json"),
    }
    session.connection().execute(_RECORD, row)
    return True


def mark_started(session: Session, started: list[tuple[uuid.UUID, uuid.UUID, str]]) -> None:
    """Starts Temporal acknowledged, as (execution id, decision id, run id): each run row gets
    its run id and `pending` -> `running` (a row its run already finished keeps its final
    status, as in journey.executions), and each decision becomes `started`. Two UPDATEs, each
    executed once for all rows, and no reads; the caller commits."""
    if not started:
        return
    connection = session.connection()
    runs = [{"execution_id": run, "run": run_id} for run, _, run_id in started]
    decisions = [{"decision_id": decision, "execution": run} for run, decision, _ in started]
    connection.execute(_RUN_STARTED, runs)
    connection.execute(_DECISION_STARTED, decisions)


def decision_for(session: Session, trigger_id: str, event_id: str) -> TriggerExecution | None:
    params = {"trigger_id": uuid.UUID(trigger_id), "event_id": event_id}
    return session.exec(_DECISION, params=params).first()


def earlier_entry(
    session: Session, *, trigger_id: str, user_id: str, event_id: str, since: datetime | None
) -> TriggerExecution | None:
    """The newest run this trigger started for the user from another event (with `since`,
    only one whose event is newer than that)."""
    query = select(TriggerExecution).where(
        TriggerExecution.trigger_id == uuid.UUID(trigger_id),
        TriggerExecution.user_id == user_id,
        col(TriggerExecution.decision).in_(ENTERED),
        TriggerExecution.event_id != event_id,
    )
    if since is not None:
        query = query.where(col(TriggerExecution.event_at) > since)
    return session.exec(query.order_by(col(TriggerExecution.event_at).desc())).first()


def same_dedupe_entry(
    session: Session, *, trigger_id: str, dedupe_key: str, event_id: str
) -> TriggerExecution | None:
    """A run this trigger already started for the same dedupe value, from another event."""
    params = {"trigger_id": uuid.UUID(trigger_id), "dedupe_key": dedupe_key, "event_id": event_id}
    return session.exec(_SAME_DEDUPE, params=params).first()


def open_runs(
    session: Session, *, user_id: str, journey_id: uuid.UUID | None = None
) -> list[WorkflowExecution]:
    """The user's runs the mirror shows as not finished (optionally of one journey)."""
    if journey_id is None:
        return list(session.exec(_OPEN_RUNS, params={"user_id": user_id}).all())
    params = {"user_id": user_id, "journey_id": journey_id}
    return list(session.exec(_OPEN_RUNS_OF_JOURNEY, params=params).all())


def open_run_keys(session: Session, *, user_id: str) -> list[tuple[str, uuid.UUID, str]]:
    """(workflow id, journey id, version) of each run `open_runs` would return."""
    rows = session.connection().execute(_OPEN_RUN_KEYS, {"user_id": user_id})
    return [(row[0], row[1], row[2]) for row in rows]


def reserved_run(session: Session, *, journey_id: uuid.UUID, key: str) -> WorkflowExecution | None:
    """The run row reserved under an idempotency key (journey.services.runs.executions.find_by_key,
    built once)."""
    return session.exec(_RESERVED, params={"journey_id": journey_id, "key": key}).first()


def version_definition(
    session: Session, journey_id: uuid.UUID, version: str
) -> dict[str, Any] | None:
    """The document of one version (ad-hoc journeys have no version rows: their one row)."""
    query = select(WorkflowVersion.definition).where(
        WorkflowVersion.workflow_id == journey_id, WorkflowVersion.version == version
    )
    found = session.exec(query).first()
    if found is not None:
        return dict(found)
    journey = session.get(Workflow, journey_id)
    if journey is not None and journey.version == version:
        return dict(journey.definition)
    return None

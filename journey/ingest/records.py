"""Small database reads and writes of the consumer, inside a caller's session.

The consumer handles an event in two transactions (planner.py): everything it decides before
asking Temporal, then the starts Temporal acknowledged. These helpers do not commit.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from activities.profiles import snapshot
from dsl.events import EventEnvelope
from journey.db.models import (
    IngestedEvent,
    LifecycleEvent,
    TriggerExecution,
    User,
    Workflow,
    WorkflowExecution,
    WorkflowVersion,
)

ENTERED = ("started", "pending")
OPEN_RUNS = ("pending", "running")


def profile(session: Session, user_id: str) -> dict[str, Any] | None:
    """The profile as journeys see it (`user.*` in conditions), or None when there is none."""
    user = session.get(User, user_id)
    return snapshot(user).model_dump(mode="json") if user is not None else None


def new_user(session: Session, user_id: str, properties: Any) -> User:
    """The profile an event creates for a user first seen in it (not added to the session):
    the event's `properties.email` when no other profile has it."""
    email = properties.get("email") if isinstance(properties, dict) else None
    usable = isinstance(email, str) and len(email) <= 255
    taken = usable and session.exec(select(User.id).where(User.email == email)).first()
    return User(id=user_id, email=email if usable and not taken else None)


def add_profile(session: Session, user_id: str, envelope: EventEnvelope) -> None:
    if session.get(User, user_id) is None:
        session.add(new_user(session, user_id, envelope.properties))
        session.flush()


def add_event(session: Session, envelope: EventEnvelope) -> bool:
    """Append the event to `lifecycle_events` unless its id was recorded before; True if added.

    The id is claimed in `ingested_events` first (its primary key decides, also between
    concurrent consumers): `lifecycle_events` is partitioned on PostgreSQL and cannot hold a
    unique index on the id alone (migration 0005)."""
    dialect = sqlite if session.get_bind().dialect.name == "sqlite" else postgresql
    claim = dialect.insert(IngestedEvent).values(event_id=envelope.id).on_conflict_do_nothing()
    if session.execute(claim.returning(col(IngestedEvent.event_id))).first() is None:
        return False
    known_user = session.get(User, envelope.user_id) is not None
    session.execute(
        insert(LifecycleEvent).values(
            event_id=envelope.id,
            event_type=envelope.type[:100],
            # The FK needs an existing profile; the envelope keeps the id either way.
            user_id=envelope.user_id if known_user else None,
            event_data=envelope.model_dump(mode="json"),
        )
    )
    return True


def decision_for(session: Session, trigger_id: str, event_id: str) -> TriggerExecution | None:
    query = select(TriggerExecution).where(
        TriggerExecution.trigger_id == uuid.UUID(trigger_id),
        TriggerExecution.event_id == event_id,
    )
    return session.exec(query).first()


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
    query = select(TriggerExecution).where(
        TriggerExecution.trigger_id == uuid.UUID(trigger_id),
        TriggerExecution.dedupe_key == dedupe_key,
        col(TriggerExecution.decision).in_(ENTERED),
        TriggerExecution.event_id != event_id,
    )
    return session.exec(query).first()


def open_runs(
    session: Session, *, user_id: str, journey_id: uuid.UUID | None = None
) -> list[WorkflowExecution]:
    """The user's runs the mirror shows as not finished (optionally of one journey)."""
    query = select(WorkflowExecution).where(
        WorkflowExecution.user_id == user_id, col(WorkflowExecution.status).in_(OPEN_RUNS)
    )
    if journey_id is not None:
        query = query.where(WorkflowExecution.workflow_id == journey_id)
    return list(session.exec(query).all())


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

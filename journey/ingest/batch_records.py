"""The consumer's reads and writes for many events at once (the batch path, batch.py).

Each helper does for a list what a helper of records.py does for one event, in one statement,
inside the caller's session; none commits.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from dsl.events import EventEnvelope
from journey.core.db.models import IngestedEvent, LifecycleEvent, TriggerExecution, User
from journey.core.db.models import WorkflowExecution as Run
from journey.core.db.rows import insert_rows
from journey.ingest.records import ENTERED, OPEN_RUNS


class ClaimRace(Exception):
    """Another consumer claimed one of the batch's events between our read and our claim."""


def claimed(session: Session, event_ids: list[str]) -> set[str]:
    """The ids among these already recorded (a redelivery, or another consumer's)."""
    query = select(IngestedEvent.event_id).where(col(IngestedEvent.event_id).in_(event_ids))
    return set(session.exec(query).all())


def claim(session: Session, event_ids: list[str]) -> None:
    """Claim every id (records.add_event's claim, for all at once); raises ClaimRace if one was
    taken meanwhile, so the caller rolls back and hands the batch to the one-at-a-time path."""
    dialect = sqlite if session.get_bind().dialect.name == "sqlite" else postgresql
    statement = (
        dialect.insert(IngestedEvent)
        .values([{"event_id": event_id} for event_id in event_ids])
        .on_conflict_do_nothing()
        .returning(col(IngestedEvent.event_id))
    )
    got = set(session.connection().execute(statement).scalars())
    if got != set(event_ids):
        raise ClaimRace(sorted(set(event_ids) - got))


def record_events(session: Session, envelopes: list[EventEnvelope], known: set[str]) -> None:
    """Append the claimed events to `lifecycle_events`; an event's user id is kept only when
    the profile exists (`known`, flushed), as in records.add_event."""
    rows = [
        {
            "event_id": e.id,
            "event_type": e.type[:100],
            "user_id": e.user_id if e.user_id in known else None,
            "event_data": e.model_dump(mode="json"),
        }
        for e in envelopes
    ]
    insert_rows(session, LifecycleEvent, rows)


def users(session: Session, user_ids: Iterable[str]) -> dict[str, User]:
    """The profiles of these ids that exist, loaded into the session (so `session.get` of any
    of them later needs no query)."""
    wanted = sorted(set(user_ids))
    if not wanted:
        return {}
    found = session.exec(select(User).where(col(User.id).in_(wanted))).all()
    return {user.id: user for user in found}


def new_users(session: Session, wanted: dict[str, Any]) -> list[User]:
    """Profiles for user ids first seen in these events (id -> the event's properties), as
    records.new_user makes them: the event's `properties.email` when no other profile has it
    (nor an earlier one of these)."""
    emails: dict[str, str] = {}
    for user_id, properties in wanted.items():
        email = properties.get("email") if isinstance(properties, dict) else None
        if isinstance(email, str) and len(email) <= 255:
            emails[user_id] = email
    taken: set[str | None] = set()
    if emails:
        query = select(User.email).where(col(User.email).in_(sorted(set(emails.values()))))
        taken = set(session.exec(query).all())
    made = []
    for user_id in wanted:
        email = emails.get(user_id)
        if email in taken:
            email = None
        taken.add(email)
        made.append(User(id=user_id, email=email))
    return made


def started_for_dedupe(
    session: Session, pairs: set[tuple[str, str]]
) -> dict[tuple[str, str], str | None]:
    """For (trigger id, dedupe value) pairs: the run a decision already entered under it."""
    if not pairs:
        return {}
    triggers = sorted({uuid.UUID(trigger_id) for trigger_id, _ in pairs})
    values = sorted({value for _, value in pairs})
    entered = TriggerExecution
    query = select(entered.trigger_id, entered.dedupe_key, entered.temporal_workflow_id).where(
        col(entered.trigger_id).in_(triggers),
        col(entered.dedupe_key).in_(values),
        col(entered.decision).in_(ENTERED),
    )
    found: dict[tuple[str, str], str | None] = {}
    for trigger_id, value, workflow_id in session.exec(query).all():
        if (key := (str(trigger_id), str(value))) in pairs:
            found.setdefault(key, workflow_id)
    return found


def reservations(session: Session, keys: set[str]) -> dict[tuple[uuid.UUID, str], Run]:
    """Run rows reserved under these idempotency keys, by (journey id, key)."""
    if not keys:
        return {}
    query = select(Run).where(col(Run.idempotency_key).in_(sorted(keys)))
    return {(run.workflow_id, run.idempotency_key or ""): run for run in session.exec(query)}


def open_run_keys(
    session: Session, user_ids: Iterable[str]
) -> dict[str, list[tuple[str, uuid.UUID, str]]]:
    """records.open_run_keys for many users: user -> (workflow id, journey id, version)."""
    wanted = sorted(set(user_ids))
    query = select(
        Run.user_id, Run.temporal_workflow_id, Run.workflow_id, Run.workflow_version
    ).where(col(Run.user_id).in_(wanted), col(Run.status).in_(OPEN_RUNS))
    runs: dict[str, list[tuple[str, uuid.UUID, str]]] = {user_id: [] for user_id in wanted}
    for user_id, workflow_id, journey_id, version in session.exec(query).all():
        runs[user_id].append((workflow_id, journey_id, version))
    return runs

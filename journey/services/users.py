"""User profiles for the gateway: find, upsert, change stage, read history, erase.

Functions take the caller's session and never commit, except where a docstring says so; the
routes commit, then publish what has to wait for the commit (the stage-changed event).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, cast

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import (
    CursorResult,
    Executable,
    String,
    delete,
    func,
    literal,
    or_,
    union_all,
)
from sqlalchemy import cast as sql_cast
from sqlmodel import Session, col, select

from dsl.conditions import AllOf, AnyOf, Condition, Leaf, NotOf, Ref, evaluate
from dsl.validation import loc_to_pointer
from journey.contracts.actions import UserSnapshot
from journey.core.db.models import (
    Delivery,
    LifecycleEvent,
    TriggerExecution,
    User,
    UserLifecycleHistory,
    UserSegmentMembership,
    WorkflowExecution,
)
from journey.services.lifecycle import STAGE_CHANGED_EVENT, TransitionResult, transition_stage

__all__ = [
    "EmailTaken",
    "HistoryEntry",
    "InvalidCondition",
    "Upserted",
    "erase_user",
    "matching_users",
    "new_user",
    "open_run_ids",
    "parse_user_condition",
    "profile",
    "snapshot",
    "stage_history",
    "upsert_user",
    "user_history",
]


def snapshot(user: User) -> UserSnapshot:
    """The profile as the workflow, conditions, triggers and segments see it."""
    return UserSnapshot(
        id=user.id,
        email=user.email,
        current_lifecycle_stage=user.current_lifecycle_stage,
        attributes=dict(user.attributes or {}),
    )


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


AttributesMode = Literal["merge", "replace"]
HistoryKind = Literal["stage_transition", "journey_run", "event"]
OPEN_RUNS = ("pending", "running")
_CONDITION: TypeAdapter[Condition] = TypeAdapter(Condition)


class InvalidCondition(ValueError):
    """A filter condition that is not JSON, not a condition, or reads more than `user.*`."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{path or '/'}: {message}" for path, message in problems))
        self.problems = problems  # (JSON pointer into the condition, message)


class EmailTaken(ValueError):
    """Another profile has the email (users.email is unique)."""


def _outside_user(condition: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Pointers to the fields and refs of a condition that are not `user.*`."""
    if isinstance(condition, AllOf | AnyOf):
        key, children = (
            ("all", condition.all) if isinstance(condition, AllOf) else ("any", condition.any)
        )
        for index, child in enumerate(children):
            yield from _outside_user(child, f"{path}/{key}/{index}")
    elif isinstance(condition, NotOf):
        yield from _outside_user(condition.not_, f"{path}/not")
    elif isinstance(condition, Leaf):
        refs = [("field", condition.field)]
        if isinstance(condition.value, Ref):
            refs.append(("value/ref", condition.value.ref))
        for suffix, field in refs:
            if not field.startswith("user."):
                yield f"{path}/{suffix}", f"'{field}' is not a user field; only user.* filter users"


def parse_user_condition(text: str) -> Condition:
    """The condition in `text` (JSON), readable over profiles only; InvalidCondition if not."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise InvalidCondition([("", f"not valid JSON: {exc}")]) from None
    try:
        condition = _CONDITION.validate_python(data)
    except ValidationError as exc:
        problems = [
            (loc_to_pointer(error["loc"], data, error["type"]), error["msg"])
            for error in exc.errors(include_url=False)
        ]
        raise InvalidCondition(problems) from None
    outside = list(_outside_user(condition))
    if outside:
        raise InvalidCondition(outside)
    return condition


def matching_users(
    session: Session, *, stage: str | None, condition: Condition | None, limit: int, offset: int
) -> tuple[list[User], int]:
    """One page of profiles (newest first) in `stage` that satisfy `condition`, and the total.

    The stage filters in SQL; the condition is evaluated here, in Python, over every profile of
    the stage, as journeys and triggers see them (`user.*`). The segments SQL compiler
    (journey/services/segments/) is meant to take the condition over into the query; this function's
    signature is the seam it replaces."""
    query = select(User).order_by(col(User.created_at).desc(), col(User.id))
    if stage is not None:
        query = query.where(User.current_lifecycle_stage == stage)
    if condition is None:
        total = session.exec(select(func.count()).select_from(query.subquery())).one()
        return list(session.exec(query.limit(limit).offset(offset)).all()), int(total)
    page: list[User] = []
    total = 0
    for user in session.exec(query.execution_options(yield_per=500)):
        if evaluate(condition, {"user": snapshot(user).model_dump(mode="json")}):
            if offset <= total < offset + limit:
                page.append(user)
            total += 1
    return page, total


@dataclass(frozen=True)
class Upserted:
    user: User
    created: bool
    transition: TransitionResult | None  # when the body named a stage


def upsert_user(
    session: Session,
    *,
    user_id: str,
    fields: dict[str, Any],
    attributes_mode: AttributesMode,
    reason: str | None,
    details: dict[str, Any],
) -> Upserted:
    """Create or update a profile from the body's fields that were sent (`email`,
    `attributes`, `stage`); absent ones keep their value. `merge` is shallow: the body's
    top-level attribute keys replace the stored ones and every other key stays; `replace`
    swaps the whole document. A stage goes through `transition_stage` (history, audit, event);
    a new profile starts in Acquisition and moves from there. Flushes, never commits."""
    user = session.get(User, user_id, with_for_update=True)
    created = user is None
    if user is None:
        user = User(id=user_id)
    if "email" in fields:
        email = fields["email"]
        if email is not None:
            owner = session.exec(select(User.id).where(User.email == email)).first()
            if owner is not None and owner != user_id:
                raise EmailTaken(f"the email is already the profile of user {owner!r}")
        user.email = email
    if "attributes" in fields:
        new = dict(fields["attributes"] or {})
        # A new dict in both cases: SQLAlchemy does not see in-place changes of a JSON value.
        user.attributes = {**(user.attributes or {}), **new} if attributes_mode == "merge" else new
    session.add(user)
    session.flush()
    transition = None
    if fields.get("stage") is not None:
        transition = transition_stage(
            session,
            user=user,
            to_stage=str(fields["stage"]),
            reason=reason,
            details=details,
            source="api",
        )
    return Upserted(user=user, created=created, transition=transition)


def stage_history(session: Session, *, user_id: str) -> list[UserLifecycleHistory]:
    """Every transition of the user, oldest first."""
    query = (
        select(UserLifecycleHistory)
        .where(UserLifecycleHistory.user_id == user_id)
        .order_by(col(UserLifecycleHistory.transitioned_at), col(UserLifecycleHistory.id))
    )
    return list(session.exec(query).all())


@dataclass(frozen=True)
class HistoryEntry:
    kind: HistoryKind
    at: datetime | None
    row: UserLifecycleHistory | WorkflowExecution | LifecycleEvent


def user_history(
    session: Session, *, user_id: str, limit: int, offset: int
) -> tuple[list[HistoryEntry], int]:
    """Stage transitions, journey runs and recorded events of the user merged newest first.

    Merged and paged in SQL (UNION ALL of (kind, key, time)), then the page's rows are loaded.
    Events exclude `lifecycle.stage_changed`: those are the transitions already listed."""
    parts = [
        select(
            literal("stage_transition", String).label("kind"),
            sql_cast(UserLifecycleHistory.id, String).label("key"),
            col(UserLifecycleHistory.transitioned_at).label("at"),
        ).where(UserLifecycleHistory.user_id == user_id),
        select(
            literal("journey_run", String),
            sql_cast(WorkflowExecution.id, String),
            col(WorkflowExecution.started_at),
        ).where(WorkflowExecution.user_id == user_id),
        select(
            literal("event", String),
            sql_cast(LifecycleEvent.id, String),
            col(LifecycleEvent.created_at),
        ).where(
            LifecycleEvent.user_id == user_id, LifecycleEvent.event_type != STAGE_CHANGED_EVENT
        ),
    ]
    merged = union_all(*parts).subquery()
    total = session.exec(select(func.count()).select_from(merged)).one()
    page = session.execute(
        select(merged.c.kind, merged.c.key, merged.c.at)
        .order_by(merged.c.at.desc(), merged.c.kind, merged.c.key)
        .limit(limit)
        .offset(offset)
    ).all()
    models: dict[str, Any] = {
        "stage_transition": (UserLifecycleHistory, int),
        "journey_run": (WorkflowExecution, uuid.UUID),
        "event": (LifecycleEvent, int),
    }
    entries = []
    for kind, key, at in page:
        model, parse = models[kind]
        row = session.get(model, parse(key))
        if row is not None:  # deleted between the two reads
            entries.append(HistoryEntry(kind=cast(HistoryKind, kind), at=at, row=row))
    return entries, int(total)


def open_run_ids(session: Session, *, user_id: str) -> list[str]:
    """Temporal workflow ids of the user's runs the mirror shows as not finished."""
    query = select(WorkflowExecution.temporal_workflow_id).where(
        WorkflowExecution.user_id == user_id, col(WorkflowExecution.status).in_(OPEN_RUNS)
    )
    return list(session.exec(query).all())


def _deleted(session: Session, statement: Executable) -> int:
    return int(cast(CursorResult[Any], session.execute(statement)).rowcount)


def erase_user(session: Session, *, user_id: str) -> dict[str, int]:
    """Delete the profile and everything that refers to it, children first (several of the
    references have no ON DELETE CASCADE); counts by table. Never commits."""
    runs = select(WorkflowExecution.id).where(WorkflowExecution.user_id == user_id)
    of_user = {
        "trigger_executions": delete(TriggerExecution).where(
            or_(
                col(TriggerExecution.user_id) == user_id,
                col(TriggerExecution.workflow_execution_id).in_(runs),
            )
        ),
        "lifecycle_events": delete(LifecycleEvent).where(
            or_(
                col(LifecycleEvent.user_id) == user_id,
                col(LifecycleEvent.workflow_execution_id).in_(runs),
            )
        ),
        "lifecycle_history": delete(UserLifecycleHistory).where(
            col(UserLifecycleHistory.user_id) == user_id
        ),
        "segment_memberships": delete(UserSegmentMembership).where(
            col(UserSegmentMembership.user_id) == user_id
        ),
        # The effect ledger has no foreign key; its rows name the user they acted on.
        "deliveries": delete(Delivery).where(col(Delivery.user_id) == user_id),
        "executions": delete(WorkflowExecution).where(col(WorkflowExecution.user_id) == user_id),
        "profile": delete(User).where(col(User.id) == user_id),
    }
    return {name: _deleted(session, statement) for name, statement in of_user.items()}

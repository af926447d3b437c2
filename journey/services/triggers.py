"""Trigger rows and the rules they hold: conversions shared by the gateway and the consumer, and
the data functions of `/api/triggers`.

Like `journey.services.definitions`, the functions take a session and keyword-only data and stay
free of FastAPI; the HTTP layer maps their results and errors to responses. `dry_run` answers what
the consumer would decide for one event, reading the database and writing nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from sqlalchemy import delete, func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from dsl.conditions import Failure
from dsl.document import JourneyDocument
from dsl.triggers import Reentry, TriggerRule, evaluate_trigger
from journey.contracts.ids import trigger_workflow_id
from journey.core.db.models import Trigger, TriggerExecution, Workflow
from journey.services import users
from journey.services.lifecycle import stage_limit_reason


class TriggerConflict(ValueError):
    """A change that collides with concurrent work on the same trigger (HTTP 409)."""


def rule_of(row: Trigger) -> TriggerRule:
    """The validated rule a stored trigger holds (rows are only written from valid rules)."""
    fields: dict[str, Any] = {
        "event_type": row.event_type,
        "conditions": row.conditions or None,
        "dedupe_key": row.dedupe_key,
        "reentry": row.reentry,
        "reentry_period": row.reentry_period,
        "user_id_path": row.user_id_path,
        "create_profile": row.create_profile,
    }
    return TriggerRule.model_validate(fields)


def rule_columns(rule: TriggerRule) -> dict[str, Any]:
    """The columns of a trigger row that store `rule` (conditions {} = none)."""
    stored = rule.model_dump(mode="json", by_alias=True)
    stored["conditions"] = stored["conditions"] or {}
    return stored


# ---- the gateway's data functions -------------------------------------------------------------


def _apply(
    row: Trigger,
    *,
    name: str,
    description: str | None,
    journey_id: uuid.UUID,
    enabled: bool,
    rule: TriggerRule,
) -> None:
    row.name = name
    row.description = description
    row.workflow_id = journey_id
    row.enabled = enabled
    for column, value in rule_columns(rule).items():
        setattr(row, column, value)


def create_trigger(
    session: Session,
    *,
    name: str,
    description: str | None,
    journey_id: uuid.UUID,
    enabled: bool,
    rule: TriggerRule,
) -> Trigger:
    """A new trigger that starts `journey_id` on events matching `rule`."""
    row = Trigger(name=name, event_type=rule.event_type, conditions={})
    _apply(
        row, name=name, description=description, journey_id=journey_id, enabled=enabled, rule=rule
    )
    session.add(row)
    session.commit()
    session.refresh(row)
    return row


def get_trigger(session: Session, *, trigger_id: uuid.UUID) -> Trigger | None:
    return session.get(Trigger, trigger_id)


def list_triggers(
    session: Session,
    *,
    journey_id: uuid.UUID | None = None,
    event_type: str | None = None,
    enabled: bool | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[Sequence[Trigger], int]:
    """One page of triggers, newest first, and the total matching the filters. `event_type`
    is compared with the stored pattern as written (`cart.*` finds `cart.*`)."""
    conditions = []
    if journey_id is not None:
        conditions.append(col(Trigger.workflow_id) == journey_id)
    if event_type is not None:
        conditions.append(col(Trigger.event_type) == event_type)
    if enabled is not None:
        conditions.append(col(Trigger.enabled) == enabled)
    total = session.exec(select(func.count()).select_from(Trigger).where(*conditions)).one()
    rows = session.exec(
        select(Trigger)
        .where(*conditions)
        .order_by(col(Trigger.created_at).desc(), col(Trigger.id))
        .limit(limit)
        .offset(offset)
    ).all()
    return rows, int(total)


def update_trigger(
    session: Session,
    *,
    row: Trigger,
    name: str,
    description: str | None,
    journey_id: uuid.UUID,
    enabled: bool,
    rule: TriggerRule,
) -> Trigger:
    """Replace every editable field of the trigger; its id (and so its run ids) stays."""
    _apply(
        row, name=name, description=description, journey_id=journey_id, enabled=enabled, rule=rule
    )
    session.add(row)
    session.commit()
    session.refresh(row)
    return row


def delete_trigger(session: Session, *, row: Trigger) -> int:
    """Delete the trigger and its evaluation log; the number of log rows removed.

    Runs the trigger started are kept (they belong to the journey). If the consumer logs a
    decision between the two deletes, the foreign key refuses the second: TriggerConflict.
    """
    log_rows = delete(TriggerExecution).where(col(TriggerExecution.trigger_id) == row.id)
    removed = session.execute(log_rows)
    session.delete(row)
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise TriggerConflict("the trigger fired while it was being deleted; retry") from exc
    return int(getattr(removed, "rowcount", 0) or 0)


def list_trigger_executions(
    session: Session, *, trigger_id: uuid.UUID, limit: int = 50, offset: int = 0
) -> tuple[Sequence[TriggerExecution], int]:
    """One page of the trigger's decisions, newest first, and how many there are."""
    where = col(TriggerExecution.trigger_id) == trigger_id
    total = session.exec(select(func.count()).select_from(TriggerExecution).where(where)).one()
    rows = session.exec(
        select(TriggerExecution)
        .where(where)
        .order_by(col(TriggerExecution.executed_at).desc(), col(TriggerExecution.id).desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return rows, int(total)


# ---- dry runs ---------------------------------------------------------------------------------


def _new_profile(session: Session, *, user_id: str, event: dict[str, Any]) -> dict[str, Any]:
    """The profile a `create_profile` trigger makes before it judges the event, exactly as the
    consumer makes it, built in memory only."""
    user = users.new_user(session, user_id, event.get("properties"))
    return users.snapshot(user).model_dump(mode="json")


def _document(journey: Workflow) -> JourneyDocument | None:
    try:
        return JourneyDocument.model_validate(journey.definition)
    except ValidationError:  # stored rows are validated; a legacy one limits and creates nothing
        return None


def _creates_profiles(journey: Workflow) -> bool:
    document = _document(journey)
    return document is not None and document.create_missing_profile


@dataclass
class DryRun:
    """What the consumer would decide for one event, and whether it would start a run."""

    matched: bool
    reasons: list[str]
    failures: list[Failure]
    user_id: str | None
    dedupe_value: str | None
    workflow_id: str | None
    journey_id: uuid.UUID | None
    reentry: Reentry
    user_known: bool
    would_start: bool
    notes: list[str] = field(default_factory=list)


def dry_run(
    session: Session, *, row: Trigger, event: dict[str, Any], user: dict[str, Any] | None
) -> DryRun:
    """Evaluate `event` (an envelope as JSON) against the trigger without any side effect.

    `user` replaces the stored profile in the conditions; without it the profile of the user
    the event names is read from the database (for an unknown user, the profile a
    `create_profile` trigger would create first). `user_known` is always the database's
    answer, because that decides whether a run can start. Re-entry history (an earlier run of
    a `once` trigger, ...) is not consulted.
    """
    rule = rule_of(row)
    decision = evaluate_trigger(rule, event, user)  # the user id does not depend on the profile
    user_id = decision.user_id
    known_profile = users.profile(session, user_id) if user_id is not None else None
    if user is None and user_id is not None:
        profile = known_profile
        if profile is None and rule.create_profile:
            profile = _new_profile(session, user_id=user_id, event=event)
        if profile is not None:
            decision = evaluate_trigger(rule, event, profile)
    journey = session.get(Workflow, row.workflow_id) if row.workflow_id is not None else None
    workflow_id = None
    if decision.user_id is not None and decision.dedupe_value is not None:
        workflow_id = trigger_workflow_id(
            str(row.id), decision.user_id, decision.dedupe_value, once=rule.reentry is Reentry.ONCE
        )
    notes: list[str] = []
    if decision.matched:
        if not row.enabled:
            notes.append("the trigger is disabled")
        if journey is None:
            notes.append("the trigger names no stored journey")
        elif journey.status != "active":
            notes.append(f"the journey is {journey.status}; only active journeys start")
        stage = (known_profile or {}).get("current_lifecycle_stage")
        if journey is not None and (outside := stage_limit_reason(_document(journey), stage)):
            notes.append(outside)
        creates = rule.create_profile or (journey is not None and _creates_profiles(journey))
        if known_profile is None and not creates:
            notes.append(
                f"user {user_id!r} has no profile, and neither the trigger (create_profile) "
                "nor the journey (create_missing_profile) creates one"
            )
    return DryRun(
        matched=decision.matched,
        reasons=list(decision.reasons),
        failures=list(decision.failures),
        user_id=decision.user_id,
        dedupe_value=decision.dedupe_value,
        workflow_id=workflow_id,
        journey_id=row.workflow_id,
        reentry=rule.reentry,
        user_known=known_profile is not None,
        would_start=decision.matched and not notes,
        notes=notes,
    )

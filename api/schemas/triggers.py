"""Request and response models of `/api/triggers`.

A trigger's body is its identity (name, description, the journey it starts, enabled) plus every
field of `dsl.triggers.TriggerRule`, validated by that model itself: the gateway and the Kafka
consumer share one definition of a valid rule. Durations come back as ISO 8601 strings.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fastapi.openapi.models import Example
from pydantic import BaseModel, ConfigDict, Field

from dsl.events import EventEnvelope
from dsl.triggers import Reentry, TriggerRule
from journey.core.db.models import Trigger, TriggerExecution
from journey.services.triggers import DryRun

_EXAMPLE_JOURNEY = "6f1c2f0e-8a43-4a55-9a3e-2d4f1b7c9e01"


class TriggerFields(TriggerRule):
    """Every editable field: the trigger's identity and its rule."""

    name: str = Field(min_length=1, max_length=255)
    description: str | None = None
    journey_id: uuid.UUID = Field(description="The stored journey the trigger starts.")
    enabled: bool = True

    def rule(self) -> TriggerRule:
        """The rule alone. Validated instances pass through unchanged, so a condition keeps
        the keys it was written with."""
        return TriggerRule.model_validate(
            {name: getattr(self, name) for name in TriggerRule.model_fields}
        )


class TriggerCreate(TriggerFields):
    """`POST /api/triggers`."""


class TriggerUpdate(TriggerFields):
    """`PUT /api/triggers/{id}`: replaces every editable field (omitted ones take defaults)."""


class TriggerPublic(BaseModel):
    id: uuid.UUID
    name: str
    description: str | None
    journey_id: uuid.UUID | None
    enabled: bool
    event_type: str
    conditions: dict[str, Any] | None = Field(description="null: every event of the type")
    dedupe_key: str
    reentry: Reentry
    reentry_period: str | None = Field(description="ISO 8601 duration, for `once_per`")
    user_id_path: str
    create_profile: bool
    created_at: datetime | None
    updated_at: datetime | None

    @classmethod
    def of(cls, row: Trigger) -> TriggerPublic:
        return cls(
            id=row.id,
            name=row.name,
            description=row.description,
            journey_id=row.workflow_id,
            enabled=bool(row.enabled),
            event_type=row.event_type,
            conditions=row.conditions or None,
            dedupe_key=row.dedupe_key,
            reentry=Reentry(row.reentry),
            reentry_period=row.reentry_period,
            user_id_path=row.user_id_path,
            create_profile=row.create_profile,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


class TriggersPublic(BaseModel):
    items: list[TriggerPublic]
    total: int
    limit: int
    offset: int


class TriggerExecutionPublic(BaseModel):
    """One decision of the consumer about one event."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    trigger_id: uuid.UUID
    event_id: str | None
    event_at: datetime | None
    user_id: str | None
    dedupe_key: str | None = Field(description="the event's dedupe value")
    condition_met: bool
    decision: str | None
    reason: str | None
    temporal_workflow_id: str | None
    workflow_execution_id: uuid.UUID | None
    executed_at: datetime | None

    @classmethod
    def of(cls, row: TriggerExecution) -> TriggerExecutionPublic:
        return cls.model_validate(row)


class TriggerExecutionsPublic(BaseModel):
    items: list[TriggerExecutionPublic]
    total: int
    limit: int
    offset: int


class TriggerTest(BaseModel):
    """`POST /api/triggers/{id}/test`: an event, and optionally the profile to judge it with."""

    model_config = ConfigDict(extra="forbid")

    event: EventEnvelope = Field(description="id and timestamp are filled in when omitted")
    user: dict[str, Any] | None = Field(
        default=None,
        description="The profile the conditions see ({id, email, current_lifecycle_stage, "
        "attributes}); omitted: the stored profile of the user the event names.",
    )


class FailedCondition(BaseModel):
    path: str = Field(description="JSON pointer into the trigger's conditions")
    field: str | None
    op: str | None
    reason: str


class TriggerTestResult(BaseModel):
    matched: bool = Field(description="whether the event matches the rule")
    reasons: list[str] = Field(description="why it does not match")
    failed_conditions: list[FailedCondition]
    user_id: str | None
    dedupe_value: str | None
    workflow_id: str | None = Field(description="the Temporal workflow id a start would use")
    journey_id: uuid.UUID | None
    reentry: Reentry
    user_known: bool = Field(description="whether the database has a profile for user_id")
    would_start: bool = Field(
        description="matched, trigger enabled, journey active and a profile present or "
        "created; re-entry history (earlier runs) is not consulted"
    )
    notes: list[str] = Field(description="why a matching event would not start a run")

    @classmethod
    def of(cls, run: DryRun) -> TriggerTestResult:
        failed = [
            FailedCondition(path=f.path, field=f.field, op=f.op, reason=f.reason)
            for f in run.failures
        ]
        return cls(
            matched=run.matched,
            reasons=run.reasons,
            failed_conditions=failed,
            user_id=run.user_id,
            dedupe_value=run.dedupe_value,
            workflow_id=run.workflow_id,
            journey_id=run.journey_id,
            reentry=run.reentry,
            user_known=run.user_known,
            would_start=run.would_start,
            notes=run.notes,
        )


_CART_RULE: dict[str, Any] = {
    "name": "Abandoned cart",
    "description": "Carts left with more than 20 in them, once a day per user",
    "journey_id": _EXAMPLE_JOURNEY,
    "event_type": "cart.abandoned",
    "conditions": {
        "all": [
            {"field": "event.properties.total", "op": "gt", "value": 20},
            {"field": "user.attributes.unsubscribed", "op": "ne", "value": True},
        ]
    },
    "dedupe_key": "event.properties.cart_id",
    "reentry": "once_per",
    "reentry_period": "P1D",
}


_SIGNUP_RULE: dict[str, Any] = {
    "name": "Welcome",
    "journey_id": _EXAMPLE_JOURNEY,
    "event_type": "signup",
    "reentry": "once",
    "create_profile": True,
}
_EVENT: dict[str, Any] = {
    "id": "evt-1",
    "type": "cart.abandoned",
    "user_id": "ada",
    "properties": {"cart_id": "c-42", "total": 35.5},
}
_PROFILE: dict[str, Any] = {
    "id": "ada",
    "email": "ada@example.com",
    "current_lifecycle_stage": "Acquisition",
    "attributes": {"plan": "pro"},
}


def create_examples() -> dict[str, Example]:
    return {
        "cart": Example(summary="Start a journey for abandoned carts", value=_CART_RULE),
        "signup": Example(
            summary="Every signup, once per user, creating missing profiles", value=_SIGNUP_RULE
        ),
    }


def update_examples() -> dict[str, Example]:
    return {"disable": Example(summary="Disable it", value={**_CART_RULE, "enabled": False})}


def dry_run_examples() -> dict[str, Example]:
    return {
        "stored profile": Example(
            summary="Judge with the user's stored profile", value={"event": _EVENT}
        ),
        "given profile": Example(
            summary="Judge with a given profile", value={"event": _EVENT, "user": _PROFILE}
        ),
    }

"""Request and response models of `/api/users`.

`PUT /api/users/{id}` is an upsert whose omitted fields keep their stored value, so the update
model tells "absent" from "null" by `model_fields_set`. Stages are the `LifecycleStage` enum:
an unknown one is a 422 naming `/stage`.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi.openapi.models import Example
from pydantic import ConfigDict, Field, field_validator
from sqlmodel import SQLModel

from dsl.stages import LifecycleStage
from journey.core.db.models import LifecycleEvent, User, UserLifecycleHistory, WorkflowExecution
from journey.services.lifecycle import StageTime, TransitionResult
from journey.services.users import HistoryEntry

_REASON = Field(default=None, max_length=1000, description="Why; kept in history and audit.")


class UserBase(SQLModel):
    email: str | None = Field(default=None, max_length=255, description="Unique when set.")
    attributes: dict[str, Any] = Field(default_factory=dict)


class UserUpdate(UserBase):
    """`PUT /api/users/{id}`: creates the profile or updates the fields that are sent."""

    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]

    attributes_mode: Literal["merge", "replace"] = Field(
        default="merge",
        description="merge: the body's top-level keys replace the stored ones, every other "
        "key stays (shallow: a nested object is replaced whole); replace: the body's "
        "attributes become the whole document.",
    )
    stage: LifecycleStage | None = Field(
        default=None, description="Move the user there, exactly as the transition endpoint."
    )
    reason: str | None = _REASON

    # Checked on input only: profiles created from events may hold any string.
    @field_validator("email")
    @classmethod
    def _looks_like_email(cls, value: str | None) -> str | None:
        if value is not None and ("@" not in value or value != value.strip()):
            raise ValueError("not an email address")
        return value


class UserPublic(UserBase):
    id: str
    current_lifecycle_stage: str
    created_at: datetime | None
    updated_at: datetime | None

    @classmethod
    def of(cls, row: User) -> UserPublic:
        return cls(
            id=row.id,
            email=row.email,
            attributes=dict(row.attributes or {}),
            current_lifecycle_stage=row.current_lifecycle_stage,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


class UsersPublic(SQLModel):
    items: list[UserPublic]
    total: int
    limit: int
    offset: int


class TransitionCreate(SQLModel):
    """`POST /api/users/{id}/lifecycle/transition`."""

    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]

    stage: LifecycleStage
    reason: str | None = _REASON


class TransitionPublic(SQLModel):
    user_id: str
    from_stage: str | None
    to_stage: str
    changed: bool = Field(description="false: the user was already in the stage")
    event_id: str | None = Field(
        description="id of the lifecycle.stage_changed event published for the change (for "
        "a no-op: of the change that brought the user there, published again; or null)"
    )

    @classmethod
    def of(cls, user_id: str, change: TransitionResult, event_id: str | None) -> TransitionPublic:
        return cls(
            user_id=user_id,
            from_stage=change.from_stage,
            to_stage=change.to_stage,
            changed=change.changed,
            event_id=event_id,
        )


class StageTimePublic(SQLModel):
    stage: str
    seconds: float = Field(description="total time in the stage, the current one until now")
    visits: int = Field(description="how often the user was in the stage")

    @classmethod
    def of(cls, item: StageTime) -> StageTimePublic:
        return cls(stage=item.stage, seconds=item.seconds, visits=item.visits)


class LifecyclePublic(SQLModel):
    user_id: str
    current_stage: str
    since: datetime | None = Field(description="the latest transition to it, or the creation")
    transitions: int
    stages: list[StageTimePublic] = Field(description="all five stages, in AARRR order")


class ErasurePublic(SQLModel):
    user_id: str
    cancelled_runs: int = Field(description="open runs Temporal accepted a cancel request for")
    deleted: dict[str, int] = Field(description="rows deleted, by what they were")


class TransitionItem(SQLModel):
    kind: Literal["stage_transition"] = "stage_transition"
    at: datetime | None
    id: int | None
    from_stage: str | None
    to_stage: str
    reason: str | None
    source: str | None = Field(description="journey or api")
    execution_id: uuid.UUID | None


class RunItem(SQLModel):
    kind: Literal["journey_run"] = "journey_run"
    at: datetime | None
    id: uuid.UUID
    journey_id: uuid.UUID
    journey_version: str
    status: str
    outcome: str | None
    temporal_workflow_id: str
    completed_at: datetime | None


class EventItem(SQLModel):
    kind: Literal["event"] = "event"
    at: datetime | None
    id: int | None
    event_id: str | None
    type: str
    lifecycle_stage: str | None
    data: dict[str, Any] | None


HistoryItem = Annotated[TransitionItem | RunItem | EventItem, Field(discriminator="kind")]


class HistoryPublic(SQLModel):
    items: list[HistoryItem]
    total: int
    limit: int
    offset: int


def history_item(entry: HistoryEntry) -> TransitionItem | RunItem | EventItem:
    row = entry.row
    if isinstance(row, UserLifecycleHistory):
        meta = row.metadata_ or {}
        return TransitionItem(
            at=entry.at,
            id=row.id,
            from_stage=row.from_stage,
            to_stage=row.to_stage,
            reason=meta.get("reason"),
            source=meta.get("source"),
            execution_id=row.workflow_execution_id,
        )
    if isinstance(row, WorkflowExecution):
        return RunItem(
            at=entry.at,
            id=row.id,
            journey_id=row.workflow_id,
            journey_version=row.workflow_version,
            status=row.status,
            outcome=row.outcome,
            temporal_workflow_id=row.temporal_workflow_id,
            completed_at=row.completed_at,
        )
    assert isinstance(row, LifecycleEvent)
    return EventItem(
        at=entry.at,
        id=row.id,
        event_id=row.event_id,
        type=row.event_type,
        lifecycle_stage=row.lifecycle_stage,
        data=row.event_data,
    )


_PROFILE: dict[str, Any] = {
    "email": "ada@example.com",
    "attributes": {"plan": "pro", "company": {"name": "Analytical Engines"}},
}


def update_examples() -> dict[str, Example]:
    return {
        "upsert": Example(summary="Create or update a profile (attributes merged)", value=_PROFILE),
        "replace": Example(
            summary="Replace every attribute",
            value={"attributes": {"plan": "team"}, "attributes_mode": "replace"},
        ),
        "stage": Example(
            summary="Move to a stage, with history and event",
            value={"stage": "Revenue", "reason": "first invoice paid"},
        ),
    }


def transition_examples() -> dict[str, Example]:
    return {
        "activate": Example(
            summary="Move the user to Activation",
            value={"stage": "Activation", "reason": "finished onboarding"},
        )
    }

"""Request and response models of `/api/segments`.

A segment is a name, a condition over `user.*` (the shared condition language; null: every
user) and optional lifecycle stages it is restricted to. Conditions are validated as the DSL
models; the route adds the segment rules (journey/services/segments/rules.py) with the same JSON
paths.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fastapi.openapi.models import Example
from pydantic import ConfigDict, Field
from sqlmodel import SQLModel

from dsl.common import Stage
from dsl.conditions import Condition, Failure
from journey.core.db.models import User, UserSegment
from journey.services.segments.profile import segment_profile
from journey.services.segments.service import CacheState, Overlap

_CONDITIONS: Any = Field(
    default=None,
    description="The condition language over user.id, user.email, "
    "user.current_lifecycle_stage, user.created_at (an ISO 8601 UTC string to the second) "
    "and user.attributes.<path>; null: every user.",
)
_STAGES: Any = Field(
    default_factory=list, description="Only users in one of these stages; empty: any stage."
)


class SegmentBase(SQLModel):
    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]

    name: str = Field(min_length=1, max_length=255)
    description: str | None = Field(default=None, max_length=10_000)
    conditions: Condition | None = _CONDITIONS
    lifecycle_stages: list[Stage] = _STAGES


class SegmentCreate(SegmentBase):
    """`POST /api/segments`."""


class SegmentUpdate(SegmentBase):
    """`PUT /api/segments/{id}`: replaces every editable field (omitted ones take defaults)."""


class SegmentPublic(SQLModel):
    id: uuid.UUID
    name: str
    description: str | None
    conditions: dict[str, Any] | None = Field(description="null: every user")
    lifecycle_stages: list[str]
    created_at: datetime | None
    updated_at: datetime | None
    cached_members: int = Field(
        description="Members in user_segment_memberships whose valid_until has not passed "
        "(written by the refresh schedule; the live answer is GET /{id}/users)."
    )
    cached_until: datetime | None = Field(
        description="The newest valid_until of the cached rows (the last refresh plus the "
        "membership TTL); a row's evaluated_at is when that user entered."
    )

    @classmethod
    def of(cls, row: UserSegment, cache: CacheState | None = None) -> SegmentPublic:
        cache = cache or CacheState()
        return cls(
            id=row.id,
            name=row.name,
            description=row.description,
            conditions=row.conditions or None,
            lifecycle_stages=list(row.lifecycle_stages or []),
            created_at=row.created_at,
            updated_at=row.updated_at,
            cached_members=cache.cached_members,
            cached_until=cache.cached_until,
        )


class SegmentsPublic(SQLModel):
    items: list[SegmentPublic]
    total: int
    limit: int
    offset: int


class SegmentMember(SQLModel):
    """A member's profile as segment conditions see it."""

    id: str
    email: str | None
    current_lifecycle_stage: str
    created_at: str | None = Field(description="ISO 8601 UTC, to the second, as conditions see it")
    attributes: dict[str, Any]

    @classmethod
    def of(cls, user: User) -> SegmentMember:
        return cls.model_validate(segment_profile(user))


class SegmentMembersPublic(SQLModel):
    items: list[SegmentMember]
    total: int
    limit: int
    offset: int


class SegmentEvaluate(SQLModel):
    """`POST /api/segments/evaluate`: a stored segment, or conditions (and stages) given here."""

    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]

    segment_id: uuid.UUID | None = Field(
        default=None, description="A stored segment (then no conditions or lifecycle_stages)."
    )
    conditions: Condition | None = _CONDITIONS
    lifecycle_stages: list[Stage] = _STAGES
    user_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=255,
        description="Judge this user only: member or not, and which conditions failed.",
    )


class FailedCondition(SQLModel):
    path: str = Field(
        description="JSON pointer into the definition: /conditions/..., /lifecycle_stages"
    )
    field: str | None
    op: str | None
    reason: str

    @classmethod
    def of(cls, failure: Failure) -> FailedCondition:
        return cls(path=failure.path, field=failure.field, op=failure.op, reason=failure.reason)


class SegmentEvaluation(SQLModel):
    """Without user_id: how many users are members and a sample of them. With user_id:
    whether that user is one and, if not, why. Membership always comes from the database."""

    count: int | None = None
    sample: list[SegmentMember] | None = None
    user_id: str | None = None
    member: bool | None = None
    failed_conditions: list[FailedCondition] | None = None


class SegmentOverlap(SQLModel):
    segment_id: uuid.UUID
    other_segment_id: uuid.UUID
    count: int = Field(description="members of the segment")
    other_count: int = Field(description="members of the other segment")
    both: int = Field(description="members of both")
    share: float | None = Field(description="both / count; null when count is 0")
    other_share: float | None = Field(description="both / other_count; null when it is 0")

    @classmethod
    def of(cls, first: uuid.UUID, second: uuid.UUID, overlap: Overlap) -> SegmentOverlap:
        return cls(
            segment_id=first,
            other_segment_id=second,
            count=overlap.count,
            other_count=overlap.other_count,
            both=overlap.both,
            share=overlap.share,
            other_share=overlap.other_share,
        )


_PRO_USERS: dict[str, Any] = {
    "name": "Active pro users",
    "description": "Pro or team plan, seen since 2026, not opted out",
    "conditions": {
        "all": [
            {"field": "user.attributes.plan", "op": "in", "value": ["pro", "team"]},
            {"field": "user.attributes.last_seen", "op": "gte", "value": "2026-01-01"},
            {"field": "user.attributes.email_opt_out", "op": "ne", "value": True},
        ]
    },
    "lifecycle_stages": ["Activation", "Retention"],
}


_SIGNUPS: dict[str, Any] = {
    "name": "2026 signups",
    "conditions": {"field": "user.created_at", "op": "gte", "value": "2026-01-01T00:00:00Z"},
}


def create_examples() -> dict[str, Example]:
    return {
        "pro": Example(summary="Active pro users in two stages", value=_PRO_USERS),
        "new": Example(summary="Everyone who signed up this year", value=_SIGNUPS),
    }


def update_examples() -> dict[str, Example]:
    return {"rename": Example(summary="Rename it", value={**_PRO_USERS, "name": "Pro users"})}


def evaluate_examples() -> dict[str, Example]:
    return {
        "ad hoc": Example(
            summary="Count and sample an unsaved definition",
            value={"conditions": _PRO_USERS["conditions"], "lifecycle_stages": ["Retention"]},
        ),
        "stored": Example(
            summary="Is one user in a stored segment, and why not",
            value={"segment_id": "6f1c2f0e-8a43-4a55-9a3e-2d4f1b7c9e01", "user_id": "ada"},
        ),
    }

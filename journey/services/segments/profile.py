"""The profile a segment condition sees, built in Python the way the SQL compiler reads it.

`segment_profile(user)` is `journey.services.users.snapshot` (what journeys and triggers see:
`id`, `email`, `current_lifecycle_stage`, `attributes`, SQL NULL attributes read as `{}`) plus
`created_at`, as an ISO 8601 UTC string to the second (`2026-11-22T10:00:00Z`; fractions are
cut, not rounded), so `{"field": "user.created_at", "op": "gte", "value": "2026-01-01T00:00:00Z"}`
compares strings in time order. A NULL `created_at` or `email` is a present JSON null.

`evaluate(condition, segment_context(user))` is exactly the database's answer for that user;
the agreement is a property test (tests/journey/services/segments/test_sql_agreement.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from dsl.conditions import AllOf, AnyOf, Failure, Leaf, NotOf, evaluate, explain
from journey.core.db.models import User
from journey.services.users import snapshot

Condition = AllOf | AnyOf | NotOf | Leaf

CREATED_AT_FORMAT = "YYYY-MM-DDTHH:MM:SSZ"


def created_at_text(value: datetime | None) -> str | None:
    """`2026-11-22T10:00:00Z`: UTC, whole seconds (truncated), zero-padded like the databases."""
    if value is None:
        return None
    utc = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return utc.replace(microsecond=0, tzinfo=None).isoformat() + "Z"


def segment_profile(user: User) -> dict[str, Any]:
    profile = snapshot(user).model_dump(mode="json")
    profile["created_at"] = created_at_text(user.created_at)
    return profile


def segment_context(user: User) -> dict[str, Any]:
    """The context conditions are evaluated in: `{"user": <profile>}` (no event, no vars)."""
    return {"user": segment_profile(user)}


def in_stages(user: User, lifecycle_stages: Sequence[str] | None) -> bool:
    return not lifecycle_stages or user.current_lifecycle_stage in lifecycle_stages


def is_member(
    user: User, *, condition: Condition | None, lifecycle_stages: Sequence[str] | None
) -> bool:
    """Membership decided in Python (the SQL answer is the reference; this one explains)."""
    if not in_stages(user, lifecycle_stages):
        return False
    return condition is None or evaluate(condition, segment_context(user))


def why_not(
    user: User, *, condition: Condition | None, lifecycle_stages: Sequence[str] | None
) -> list[Failure]:
    """Why `user` is not a member ([] when it is). Paths point into the segment definition:
    `/lifecycle_stages`, `/conditions/all/1`, ..."""
    failures: list[Failure] = []
    if not in_stages(user, lifecycle_stages):
        stages = ", ".join(lifecycle_stages or ())
        failures.append(
            Failure(
                path="/lifecycle_stages",
                reason=f"the user is in {user.current_lifecycle_stage}, not one of {stages}",
                field="user.current_lifecycle_stage",
                op="in",
            )
        )
    if condition is not None:
        for failure in explain(condition, segment_context(user)):
            failures.append(
                Failure(
                    path=f"/conditions{failure.path}",
                    reason=failure.reason,
                    field=failure.field,
                    op=failure.op,
                )
            )
    return failures

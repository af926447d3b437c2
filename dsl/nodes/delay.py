"""`delay`: wait for a duration, until a timestamp field, or until a local time of day.

The time arithmetic lives here as pure functions (inputs in, datetime out) so the workflow can
call them deterministically with `workflow.now()` and tests can pin DST edge cases.

Time-zone resolution for `until_time`, first valid wins: the user's zone read from
`timezone_field`, then the node's `timezone`, then the journey's `timezone`, then UTC. An
invalid or missing zone never fails the run; it falls through to the next one.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from dsl.common import NodeId, StrictModel
from dsl.durations import Duration
from dsl.fields import FieldPath, lookup
from dsl.nodes.base import NodeBase

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class UntilTime(StrictModel):
    hour: int = Field(ge=0, le=23)
    minute: int = Field(default=0, ge=0, le=59)
    weekdays: list[Weekday] = Field(default_factory=lambda: list(WEEKDAYS), min_length=1)
    timezone_field: FieldPath | None = None
    timezone: str | None = Field(default=None, description="Overrides the journey's timezone.")

    @model_validator(mode="after")
    def _unique_weekdays(self) -> UntilTime:
        if len(set(self.weekdays)) != len(self.weekdays):
            raise PydanticCustomError("duplicate_weekday", "weekdays must be unique")
        return self


class DelayNode(NodeBase):
    type: Literal["delay"] = "delay"
    duration: Duration | None = None
    until_field: FieldPath | None = None
    until_time: UntilTime | None = None
    next: NodeId
    max_iterations: int | None = Field(
        default=None, ge=1, description="Loop guard: how often one run may pass this node."
    )

    @model_validator(mode="after")
    def _exactly_one_mode(self) -> DelayNode:
        chosen = [self.duration, self.until_field, self.until_time]
        if sum(value is not None for value in chosen) != 1:
            raise PydanticCustomError(
                "delay_mode", "a delay needs exactly one of duration, until_field, until_time"
            )
        return self

    def transitions(self) -> list[tuple[str, str]]:
        return [("next", self.next)]


def is_valid_timezone(name: Any) -> bool:
    if not isinstance(name, str) or not name or name.startswith("/") or ".." in name:
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


def pick_timezone(
    user_timezone: Any, node_timezone: str | None, journey_timezone: str | None
) -> str:
    """The first valid zone of user, node, journey; "UTC" when none is valid."""
    for candidate in (user_timezone, node_timezone, journey_timezone):
        if is_valid_timezone(candidate):
            return str(candidate)
    return "UTC"


def resolve_timezone(
    until_time: UntilTime, context: Mapping[str, Any], journey_timezone: str | None
) -> str:
    """The zone for `until_time`: the user's (via timezone_field), node's, journey's, or UTC."""
    user_zone = lookup(context, until_time.timezone_field) if until_time.timezone_field else None
    return pick_timezone(user_zone, until_time.timezone, journey_timezone)


def next_allowed_local_time(now_utc: datetime, until_time: UntilTime, tz_name: str) -> datetime:
    """The first instant at or after `now_utc` that is hour:minute local on an allowed weekday.

    Returned in UTC. A wall time skipped by a DST jump (02:30 on spring-forward day) resolves to
    the same offset as before the jump, i.e. one hour later on the new clock; an ambiguous time
    (fall-back day) resolves to its first occurrence.
    """
    if now_utc.tzinfo is None:
        raise ValueError("now_utc must be timezone-aware")
    zone = ZoneInfo(tz_name)
    local_now = now_utc.astimezone(zone)
    allowed = {WEEKDAYS.index(day) for day in until_time.weekdays}
    wall = time(until_time.hour, until_time.minute)
    for offset in range(8):
        day = local_now.date() + timedelta(days=offset)
        if day.weekday() not in allowed:
            continue
        candidate = datetime.combine(day, wall, tzinfo=zone).astimezone(UTC)
        if candidate >= now_utc:
            return candidate
    raise AssertionError("unreachable: some allowed weekday occurs within eight days")

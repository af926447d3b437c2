"""Trigger rules: which events start which journey, for whom, and how often.

Pure: the REST gateway validates submissions with `TriggerSpec`, and both the Kafka consumer
and `POST /api/triggers/{id}/test` decide with `evaluate_trigger`, so a test answer is exactly
what the consumer would do with the same event and profile.

Conditions see `{"event": <envelope>, "user": <profile>}`; `dedupe_key` and `user_id_path` are
field paths into the event (`event.id`, `event.properties.cart_id`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import Any

from pydantic import Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from dsl.common import StrictModel
from dsl.conditions import Condition, Failure, explain
from dsl.durations import Duration, duration_problem
from dsl.fields import MISSING, FieldPath, lookup

EVENT_TYPE_PATTERN = r"^(\*|[A-Za-z0-9_.:\-]+\*?)$"
MAX_KEY_LENGTH = 255


class Reentry(StrEnum):
    """How often one user may enter the journey through this trigger."""

    ALWAYS = "always"  # every distinct dedupe key starts a run
    ONCE = "once"  # one run per user, ever
    ONCE_PER = "once_per"  # no new run within `reentry_period` of the user's last one
    IF_NOT_RUNNING = "if_not_running"  # only while the user has no open run of the journey


def _event_path(path: str) -> str:
    if not path.startswith("event."):
        raise PydanticCustomError(
            "not_an_event_field",
            "'{path}' must be a field of the event (event....)",
            {"path": path},
        )
    return path


class TriggerRule(StrictModel):
    """Everything that decides what an event does, without the trigger's identity."""

    event_type: str = Field(
        min_length=1,
        max_length=255,
        pattern=EVENT_TYPE_PATTERN,
        description="An exact event type, a prefix ending in '*' (e.g. 'cart.*'), or '*'.",
    )
    conditions: Condition | None = Field(
        default=None, description="Over `event` and `user` (the profile); none = every event."
    )
    dedupe_key: FieldPath = Field(
        default="event.id",
        description="The event field that identifies one occurrence: one run per value.",
    )
    reentry: Reentry = Reentry.ALWAYS
    reentry_period: Duration | None = Field(
        default=None, description="For `once_per`: no new run this soon after the last one."
    )
    user_id_path: FieldPath = Field(
        default="event.user_id", description="Where the event names the user it is about."
    )
    create_profile: bool = Field(
        default=False, description="Create a profile for an unknown user instead of skipping."
    )

    @field_validator("dedupe_key", "user_id_path")
    @classmethod
    def _of_the_event(cls, value: str) -> str:
        return _event_path(value)

    @model_validator(mode="after")
    def _period_fits_policy(self) -> TriggerRule:
        if self.reentry is Reentry.ONCE_PER:
            if self.reentry_period is None:
                raise PydanticCustomError(
                    "missing_reentry_period", "reentry 'once_per' needs a reentry_period"
                )
            problem = duration_problem(self.reentry_period)
            if problem:
                raise PydanticCustomError("invalid_reentry_period", problem)
        elif self.reentry_period is not None:
            raise PydanticCustomError(
                "unexpected_reentry_period",
                "reentry_period only applies to reentry 'once_per', not '{policy}'",
                {"policy": self.reentry.value},
            )
        return self


def event_type_matches(pattern: str, event_type: str) -> bool:
    if pattern == "*":
        return True
    if pattern.endswith("*"):
        return event_type.startswith(pattern[:-1])
    return event_type == pattern


def _scalar_text(value: Any) -> str | None:
    """A key value as text: strings and numbers only (a dict or list identifies nothing)."""
    if isinstance(value, bool) or value is None or value is MISSING:
        return None
    if isinstance(value, str | int | float):
        text = str(value)
        return text if 0 < len(text) <= MAX_KEY_LENGTH else None
    return None


def user_id_of(rule: TriggerRule, event: dict[str, Any]) -> str | None:
    """The user an event is about, by the rule's `user_id_path` (None when absent)."""
    return _scalar_text(lookup({"event": event}, rule.user_id_path))


def dedupe_value_of(rule: TriggerRule, event: dict[str, Any]) -> str | None:
    """The value of the rule's `dedupe_key` in the event (None when absent)."""
    return _scalar_text(lookup({"event": event}, rule.dedupe_key))


@dataclass
class TriggerDecision:
    """The verdict on one event: matched or not, why not, and the keys a start would use."""

    matched: bool
    user_id: str | None = None
    dedupe_value: str | None = None
    reasons: list[str] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)


def evaluate_trigger(
    rule: TriggerRule, event: dict[str, Any], user: dict[str, Any] | None
) -> TriggerDecision:
    """Whether `event` (an envelope as JSON) matches `rule` for the profile `user` (None when
    the user has no profile: conditions then see `{"id": ..., "attributes": {}}`)."""
    if not event_type_matches(rule.event_type, str(event.get("type", ""))):
        reason = f"event type {event.get('type')!r} does not match {rule.event_type!r}"
        return TriggerDecision(matched=False, reasons=[reason])
    user_id = user_id_of(rule, event)
    dedupe_value = dedupe_value_of(rule, event)
    decision = TriggerDecision(matched=True, user_id=user_id, dedupe_value=dedupe_value)
    if user_id is None:
        decision.reasons.append(f"no user id at {rule.user_id_path}")
    if dedupe_value is None:
        decision.reasons.append(f"no dedupe key at {rule.dedupe_key}")
    if rule.conditions is not None:
        profile = user if user is not None else {"id": user_id, "attributes": {}}
        decision.failures = explain(rule.conditions, {"event": event, "user": profile})
        decision.reasons.extend(
            f"condition {failure.path or '/'} failed: {failure.reason}"
            for failure in decision.failures
        )
    decision.matched = not decision.reasons
    return decision


def reentry_window(rule: TriggerRule) -> timedelta | None:
    return rule.reentry_period if rule.reentry is Reentry.ONCE_PER else None

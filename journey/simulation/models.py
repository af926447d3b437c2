"""What a simulation takes (a user, a timeline of future events) and what it returns.

Offsets are durations from the start of the simulated run, in the syntax journeys use
(`dsl/durations.py`): ISO 8601 (`P3D`, `PT2H30M`) or a number of seconds. The simulated run
starts "now" on a private time-skipping Temporal server, so absolute times in the answer are
that server's virtual clock; the offsets are what to read.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator

from dsl.common import UserId
from dsl.durations import MAX_DURATION, Duration, format_duration
from dsl.stages import LifecycleStage

__all__ = [
    "DEFAULT_HORIZON",
    "EffectRecord",
    "EventDelivery",
    "Scenario",
    "SimulatedEvent",
    "SimulatedUser",
    "SimulationResult",
    "SimulationStatus",
    "TimelineEntry",
    "WebhookAnswer",
]

DEFAULT_HORIZON = timedelta(days=90)
EVENT_TYPE_PATTERN = r"^[A-Za-z0-9_.:\-]+$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SimulatedUser(_Strict):
    """The profile the run starts with. What `GET /api/users/{id}` answers is accepted as is
    (its timestamps are ignored); the simulated actions change a copy in memory only."""

    id: UserId = "simulated-user"
    email: str | None = Field(default=None, max_length=255)
    current_lifecycle_stage: LifecycleStage = LifecycleStage.ACQUISITION
    attributes: dict[str, JsonValue] = Field(default_factory=dict)
    created_at: datetime | None = Field(default=None, description="Ignored.")
    updated_at: datetime | None = Field(default=None, description="Ignored.")


def _non_negative(value: timedelta) -> timedelta:
    if value < timedelta(0):
        raise ValueError(f"must not be negative, got {format_duration(value)}")
    return value


class SimulatedEvent(_Strict):
    """One of the user's future events, delivered to the run `at` after it started, the way
    the consumer delivers events (the run's `event` signal, with the envelope)."""

    at: Duration = Field(description="Offset from the start: ISO 8601 (P3D, PT2H) or seconds.")
    type: str = Field(min_length=1, max_length=255, pattern=EVENT_TYPE_PATTERN)
    id: str | None = Field(
        default=None, min_length=1, max_length=255, description="Default: sim-event-<n>."
    )
    properties: dict[str, JsonValue] = Field(default_factory=dict)

    _check_at = field_validator("at")(_non_negative)


class EntryEvent(_Strict):
    """The event the run starts with (`vars.entry`, and `event` in templates until a wait
    receives another), as a trigger would start it. Its timestamp defaults to the start."""

    type: str = Field(min_length=1, max_length=255, pattern=EVENT_TYPE_PATTERN)
    id: str = Field(default="sim-entry", min_length=1, max_length=255)
    timestamp: datetime | None = None
    properties: dict[str, JsonValue] = Field(default_factory=dict)


class WebhookAnswer(_Strict):
    """What the simulated receiver of a webhook node answers (default 200 with no body).
    A status the node does not accept fails the call as the real one would."""

    status: int = Field(default=200, ge=100, le=599)
    body: JsonValue = None


class Scenario(_Strict):
    """Everything a simulation varies, besides the journey itself."""

    user: SimulatedUser = Field(default_factory=SimulatedUser)
    events: list[SimulatedEvent] = Field(default_factory=list, max_length=1000)
    entry_event: EntryEvent | None = None
    horizon: Duration = Field(
        default=DEFAULT_HORIZON,
        description="How far to run the virtual clock (at most 366 days); a run still open "
        "then is reported as waiting.",
    )
    webhook_responses: dict[str, WebhookAnswer] = Field(
        default_factory=dict, description="Webhook node id -> the answer it gets."
    )

    @field_validator("horizon")
    @classmethod
    def _horizon_in_range(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0) or value > MAX_DURATION:
            raise ValueError(f"must be positive and at most 366 days, got {format_duration(value)}")
        return value


# ---- the answer -------------------------------------------------------------------------------


class EffectRecord(BaseModel):
    """What an action would have done; `details` depend on `action` (docs/journeys.md,
    "Simulation")."""

    action: Literal["email", "webhook", "update_attributes", "lifecycle_transition", "emit_event"]
    # email: sent | suppressed; webhook: answered <status>; others: applied | unchanged | failed
    outcome: str
    details: dict[str, Any] = Field(default_factory=dict)


class TimelineEntry(BaseModel):
    at: datetime = Field(description="Virtual time the step began (or the event arrived).")
    offset: str = Field(description="`at` as an ISO 8601 duration from the start.")
    offset_seconds: float
    kind: Literal["node", "event", "end"]
    run: str = Field(default="main", description="`main`, or the sub-journey node path.")
    node_id: str | None = None
    node_type: str | None = None
    summary: str = Field(description="What happened, in one line.")
    # node steps: ok | error (went to on_error) | failed | cancelled | open (still there)
    outcome: str | None = None
    finished_offset: str | None = None
    effect: EffectRecord | None = None
    event: dict[str, Any] | None = None


class EventDelivery(BaseModel):
    at: datetime
    offset: timedelta
    envelope: dict[str, Any]
    delivered: bool


# completed / failed: the run ended; waiting: still open at the horizon (then terminated);
# timed_out: the real-time limit ended the simulation first.
SimulationStatus = Literal["completed", "failed", "waiting", "timed_out"]


class SimulationResult(BaseModel):
    status: SimulationStatus
    outcome: str | None = None
    goal_reached: bool | None = None
    error: str | None = None
    started_at: datetime
    horizon: str
    ended_at: datetime | None = None
    ended_offset: str | None = None
    waiting_at: list[str] = Field(default_factory=list)
    waiting_for: str | None = None
    timeline: list[TimelineEntry]
    effects: dict[str, int] = Field(description="How many of each action would have happened.")
    user: dict[str, Any] = Field(description="The profile after the simulated changes.")
    variables: dict[str, Any] = Field(default_factory=dict)

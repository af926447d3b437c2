"""What a journey run takes, shows and returns. Pure pydantic: carried in Temporal payloads."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from dsl.document import JourneyDocument


class JourneySnapshot(BaseModel):
    """The definition a run executes. A run keeps the version it started with."""

    journey_id: str
    version: str
    document: JourneyDocument


class StepLogEntry(BaseModel):
    node_id: str
    type: str
    started_at: datetime
    finished_at: datetime | None = None
    outcome: str | None = None
    detail: str | None = None


class CarriedState(BaseModel):
    """State handed to the next run by continue-as-new."""

    node_id: str
    variables: dict[str, Any]
    user: dict[str, Any]
    user_known: bool = True
    last_event: dict[str, Any] | None
    pending_events: list[dict[str, Any]]
    visits: dict[str, int]
    step_log: list[StepLogEntry]
    steps_before: int
    # The most recent ids of received events, oldest first, so a redelivery after
    # continue-as-new is still ignored. Defaulted: payloads carried before it still decode.
    seen_event_ids: list[str] = Field(default_factory=list)


class JourneyInput(BaseModel):
    journey: JourneySnapshot
    user_id: str
    entry_event: dict[str, Any] | None = None
    variables: dict[str, Any] = Field(default_factory=dict)
    create_profile: bool = False
    # Continue-as-new once history passes this many events (Temporal also suggests it).
    max_history_events: int = 10_000
    carried: CarriedState | None = None
    # The action kinds ("email", "webhook") with a configured global rate, which run on their
    # own queues (workflows/task_queues.py); None in runs whose starter did not say: all do.
    throttled_actions: list[str] | None = None


class JourneyState(BaseModel):
    """The answer of the `state` query: where the run is and what it has done."""

    journey_id: str
    version: str
    user_id: str
    status: str
    current_nodes: list[str]
    waiting_for: str | None
    variables: dict[str, Any]
    step_log: list[StepLogEntry]
    outcome: str | None


class JourneyResult(BaseModel):
    outcome: str
    variables: dict[str, Any]
    step_log: list[StepLogEntry]


LOAD_JOURNEY = "journey.load_journey"


class LoadJourneyInput(BaseModel):
    journey_id: str

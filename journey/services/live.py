"""Following one journey run as it happens: node transitions, what it waits for, its outcome.

The run's history is long-polled (`wait_new_event`) as the wake-up only: after each workflow
task the run's `state` query is asked, and its step log becomes `node_entered` and
`node_completed` events. The step log, unlike history, also holds the nodes that run without a
command of their own (conditions, splits, ends). `waiting` says what a blocked run waits for;
`outcome`, from the closing history event, ends the stream. A run that continued-as-new is
followed into its next run. A finished run replays the same way: its whole history is one page,
so its transitions come at once, then its outcome.

Event ids make a reconnect resumable (SSE `Last-Event-ID`): an id is the workflow time of a
transition in microseconds and its place among the transitions of that same instant. What one
workflow task does shares its time and becomes visible at once, and later tasks have later
times, so ids only grow, are the same on every connection and survive continue-as-new (the
carried step log keeps its times). `waiting` has no id: it describes the present, and a
reconnect is told it again. The outcome's id is `end`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import (
    Client,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowQueryRejectedError,
)
from temporalio.service import RPCError, RPCStatusCode

from journey.contracts.runs import JourneyResult, JourneyState, StepLogEntry

END_ID = "end"
QUERY_TIMEOUT = 5.0  # seconds the run has to answer its `state` query
Position = tuple[int, int]  # (workflow time in µs, place among that instant's transitions)
TASK_COMPLETED = EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
CONTINUED = EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
CLOSED = {
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED: "completed",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED: "failed",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED: "cancelled",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED: "terminated",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT: "timed_out",
}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True)
class RunEvent:
    event: str  # node_entered, node_completed, waiting or outcome
    data: dict[str, Any] = field(default_factory=dict)
    id: str | None = None


def parse_position(event_id: str) -> Position:
    """The position an event id names; ValueError for anything this module did not make."""
    micros, _, place = event_id.partition("-")
    if not (micros.isdigit() and place.isdigit()):
        raise ValueError(f"{event_id!r} is not an event id of this stream")
    return int(micros), int(place)


def _micros(moment: datetime) -> int:
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return (aware - _EPOCH) // _MICROSECOND


def _step_data(step: StepLogEntry, moment: datetime, done: bool) -> dict[str, Any]:
    data: dict[str, Any] = {"node_id": step.node_id, "type": step.type, "at": moment.isoformat()}
    if done:
        data |= {"outcome": step.outcome, "detail": step.detail}
    return data


def transitions(state: JourneyState, after: Position | None = None) -> list[RunEvent]:
    """The step log as transition events in time order, those after `after` only."""
    marks: list[tuple[datetime, int, bool, StepLogEntry]] = []
    for index, step in enumerate(state.step_log):
        marks.append((step.started_at, index, False, step))
        if step.finished_at is not None:
            marks.append((step.finished_at, index, True, step))
    marks.sort(key=lambda mark: (_micros(mark[0]), mark[1], mark[2]))
    events: list[RunEvent] = []
    previous, place = -1, 0
    for moment, _, done, step in marks:
        micros = _micros(moment)
        place = place + 1 if micros == previous else 0
        previous = micros
        if after is not None and (micros, place) <= after:
            continue
        name = "node_completed" if done else "node_entered"
        events.append(RunEvent(name, _step_data(step, moment, done), f"{micros}-{place}"))
    return events


def _waiting(state: JourneyState) -> RunEvent:
    reason = state.waiting_for or ""
    kind = (
        "event" if reason.startswith("event") else "timer" if reason.startswith("delay") else None
    )
    return RunEvent("waiting", {"nodes": state.current_nodes, "waiting_for": reason, "kind": kind})


async def _state(
    handle: WorkflowHandle[Any, Any], timeout: float, attempts: int
) -> JourneyState | None:
    """The run's state, or None when it does not answer (no worker, history gone)."""
    for attempt in range(attempts):
        if attempt:
            await asyncio.sleep(1.0)
        try:
            return await asyncio.wait_for(handle.query("state", result_type=JourneyState), timeout)
        except (TimeoutError, WorkflowQueryRejectedError, WorkflowQueryFailedError, RPCError):
            continue
    return None


async def _outcome(client: Client, closing: HistoryEvent) -> RunEvent:
    status = CLOSED[closing.event_type]
    outcome: str | None = None
    error: str | None = None
    if status == "completed":
        payloads = closing.workflow_execution_completed_event_attributes.result.payloads
        try:
            result = (await client.data_converter.decode(payloads, [JourneyResult]))[0]
            outcome = result.outcome
        except Exception:  # not a journey run's result: the status alone says enough
            outcome = None
    elif status == "failed":
        failure = closing.workflow_execution_failed_event_attributes.failure
        try:
            error = str(await client.data_converter.decode_failure(failure))
        except Exception:  # e.g. encrypted under a key this process lacks
            error = failure.message or "failed"
    elif status == "terminated":
        error = closing.workflow_execution_terminated_event_attributes.reason or None
    at = closing.event_time.ToDatetime(tzinfo=UTC).isoformat()
    return RunEvent(
        "outcome", {"status": status, "outcome": outcome, "error": error, "at": at}, END_ID
    )


class RunNotFound(LookupError):
    """Temporal has no such run: never started, or its history is past retention."""


async def current_run_id(
    client: Client, workflow_id: str, run_id: str | None, *, tries: int = 1
) -> str:
    """The id of the run to follow (`run_id`, else the latest). A run whose start is under way
    (its mirror row still `pending`) is asked for `tries` times, a quarter second apart."""
    handle = client.get_workflow_handle(workflow_id, run_id=run_id)
    for attempt in range(tries):
        if attempt:
            await asyncio.sleep(0.25)
        try:
            return (await handle.describe()).run_id
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise
    raise RunNotFound(
        f"no run {workflow_id} in Temporal: it never started, or its history is past retention"
    )


async def follow_run(
    client: Client,
    workflow_id: str,
    run_id: str,
    *,
    after: Position | None = None,
    query_timeout: float = QUERY_TIMEOUT,
) -> AsyncGenerator[RunEvent, None]:
    """The run's events from its start (or after `after`) until its outcome."""
    position = after
    # What the run waited for when last told, with the length of its step log then: the same
    # wait entered again (a loop) is a new step, so it is told again.
    told: tuple[str, int] | None = None
    while True:
        handle = client.get_workflow_handle(workflow_id, run_id=run_id)
        history = handle.fetch_history_events(wait_new_event=True)
        closing: HistoryEvent | None = None
        while closing is None:
            await history.fetch_next_page()
            page = history.current_page or []
            closing = next(
                (e for e in page if e.event_type in CLOSED or e.event_type == CONTINUED), None
            )
            if closing is not None or any(e.event_type == TASK_COMPLETED for e in page):
                # An open run that does not answer is asked again: it may be parked for days.
                state = await _state(handle, query_timeout, 1 if closing else 3)
                if state is not None:
                    for event in transitions(state, position):
                        position = parse_position(event.id or "")
                        yield event
                    now = state.waiting_for if closing is None else None
                    waiting = (now, len(state.step_log)) if now else None
                    if waiting is not None and waiting != told:
                        yield _waiting(state)
                    told = waiting
            if closing is None and not history.next_page_token:
                return  # only a closed history has no next page; nothing more will come
        if closing.event_type == CONTINUED:
            run_id = (
                closing.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
            )
            continue
        yield await _outcome(client, closing)
        return

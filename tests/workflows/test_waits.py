"""Delays, waits, exit criteria and cancellation, on the time-skipping server (days in seconds)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from temporalio.client import WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import CancelledError

from journey.contracts.runs import JourneyState
from tests.workflows.conftest import JourneyRunner


def event(type_: str, **properties: Any) -> dict[str, Any]:
    return {
        "id": f"e-{type_}",
        "type": type_,
        "user_id": "u1",
        "timestamp": "2026-11-22T10:00:00Z",
        "properties": properties,
    }


def delay_then_wait(**wait: Any) -> dict[str, Any]:
    return {
        "name": "Delay then wait",
        "exit_criteria": {"field": "event.type", "op": "eq", "value": "unsubscribed"},
        "start": "pause",
        "nodes": [
            {"id": "pause", "type": "delay", "duration": "PT1H", "next": "wait"},
            {
                "id": "wait",
                "type": "wait_for_event",
                "event_type": "purchase",
                "timeout": "P3D",
                "on_event": "bought",
                "on_timeout": "gave_up",
                **wait,
            },
            {"id": "bought", "type": "end", "outcome": "bought"},
            {"id": "gave_up", "type": "end", "outcome": "gave_up"},
        ],
    }


async def waiting_at(handle: WorkflowHandle[Any, Any], node_id: str) -> JourneyState:
    for _ in range(200):
        state: JourneyState = await handle.query("state", result_type=JourneyState)
        if node_id in state.current_nodes and state.waiting_for:
            return state
        await asyncio.sleep(0.05)
    raise AssertionError(f"run never waited at {node_id}")


async def test_wait_times_out_after_days(skipping_runner: JourneyRunner) -> None:
    result = await skipping_runner.run(delay_then_wait())
    assert result.outcome == "gave_up"
    wait = next(step for step in result.step_log if step.node_id == "wait")
    assert wait.finished_at is not None
    waited = wait.finished_at - wait.started_at
    assert timedelta(days=3) <= waited < timedelta(days=3, minutes=1)


async def test_an_event_before_the_wait_began_satisfies_it(skipping_runner: JourneyRunner) -> None:
    handle = await skipping_runner.start(delay_then_wait())
    state = await waiting_at(handle, "pause")
    assert state.waiting_for is not None and "delay" in state.waiting_for
    await handle.signal("event", event("purchase"))  # arrives during the delay
    assert (await handle.result()).outcome == "bought"


async def test_correlation_condition_selects_the_event(skipping_runner: JourneyRunner) -> None:
    document = delay_then_wait(
        match={
            "field": "event.properties.cart_id",
            "op": "eq",
            "value": {"ref": "vars.entry.properties.cart_id"},
        }
    )
    handle = await skipping_runner.start(document, entry_event=event("cart", cart_id="c1"))
    # Distinct ids: a run ignores an event id it has already received.
    await handle.signal("event", {**event("purchase", cart_id="other"), "id": "e-other"})
    await handle.signal("event", event("purchase", cart_id="c1"))
    result = await handle.result()
    assert result.outcome == "bought"
    assert result.variables["entry"]["properties"] == {"cart_id": "c1"}


async def test_exit_criteria_end_the_run_during_a_delay(skipping_runner: JourneyRunner) -> None:
    handle = await skipping_runner.start(delay_then_wait())
    await waiting_at(handle, "pause")
    await handle.signal("event", event("unsubscribed"))
    result = await handle.result()
    assert result.outcome == "exited"
    assert [(s.node_id, s.outcome) for s in result.step_log] == [("pause", "cancelled")]


async def test_cancellation_stops_the_run_and_records_it(skipping_runner: JourneyRunner) -> None:
    handle = await skipping_runner.start(delay_then_wait())
    await waiting_at(handle, "pause")
    await handle.cancel()
    with pytest.raises(WorkflowFailureError) as failure:
        await handle.result()
    assert isinstance(failure.value.cause, CancelledError)
    state = await handle.query("state", result_type=JourneyState)
    assert (state.status, state.outcome) == ("cancelled", "cancelled")


async def test_delay_until_a_user_timestamp(skipping_runner: JourneyRunner) -> None:
    wake = await skipping_runner.now() + timedelta(days=10)
    skipping_runner.seed_user("u1", attributes={"trial_ends_at": wake.isoformat()})
    document = {
        "name": "Until trial end",
        "start": "until_end",
        "nodes": [
            {
                "id": "until_end",
                "type": "delay",
                "until_field": "user.attributes.trial_ends_at",
                "next": "done",
            },
            {"id": "done", "type": "end"},
        ],
    }
    result = await skipping_runner.run(document)
    step = result.step_log[0]
    assert step.finished_at is not None
    assert abs(step.finished_at - wake) < timedelta(seconds=5)


async def test_delay_until_the_next_allowed_local_time(skipping_runner: JourneyRunner) -> None:
    skipping_runner.seed_user("u1", attributes={"timezone": "Asia/Tokyo"})
    document = {
        "name": "At 9 Tokyo time on a Monday",
        "start": "at_nine",
        "nodes": [
            {
                "id": "at_nine",
                "type": "delay",
                "until_time": {
                    "hour": 9,
                    "weekdays": ["mon"],
                    "timezone_field": "user.attributes.timezone",
                },
                "next": "done",
            },
            {"id": "done", "type": "end"},
        ],
    }
    result = await skipping_runner.run(document)
    woke = result.step_log[0].finished_at
    assert woke is not None
    local = woke.astimezone(ZoneInfo("Asia/Tokyo"))
    assert (local.weekday(), local.hour, local.minute) == (0, 9, 0)
    assert woke - result.step_log[0].started_at <= timedelta(days=7)

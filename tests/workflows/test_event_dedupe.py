"""A redelivered event (same `id`: Kafka delivers at least once) is received by a run once.

On the time-skipping server: a wait that a duplicate must not satisfy times out in seconds.
The continue-as-new case runs on the dev server (see its docstring).
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Any

import pytest
from temporalio import workflow
from temporalio.service import RPCError

from journey.contracts.runs import CarriedState, JourneyState
from tests.workflows.conftest import JourneyRunner, snapshot
from tests.workflows.histories import wait_until_waiting
from workflows.context import MAX_SEEN_EVENT_IDS, RunContext
from workflows.patches import DEDUPE_DELIVERED_EVENTS


def event(type_: str, id_: str | None, **properties: Any) -> dict[str, Any]:
    sent = {
        "type": type_,
        "user_id": "u1",
        "timestamp": "2026-11-22T10:00:00Z",
        "properties": properties,
    }
    return sent if id_ is None else {"id": id_, **sent}


def end(node_id: str) -> dict[str, Any]:
    return {"id": node_id, "type": "end", "outcome": node_id}


def two_waits() -> dict[str, Any]:
    """Two consecutive waits for the same type: `got_two` only if two events arrive."""
    return {
        "name": "Two pings",
        "start": "first",
        "nodes": [
            {
                "id": "first",
                "type": "wait_for_event",
                "event_type": "ping",
                "timeout": "PT1H",
                "on_event": "second",
                "on_timeout": "got_none",
            },
            {
                "id": "second",
                "type": "wait_for_event",
                "event_type": "ping",
                "timeout": "PT1H",
                "on_event": "got_two",
                "on_timeout": "got_one",
            },
            end("got_two"),
            end("got_one"),
            end("got_none"),
        ],
    }


async def test_a_redelivered_event_does_not_satisfy_a_second_wait(
    skipping_runner: JourneyRunner,
) -> None:
    handle = await skipping_runner.start(two_waits())
    await handle.signal("event", event("ping", "e-1"))
    await handle.signal("event", event("ping", "e-1"))
    result = await handle.result()
    assert result.outcome == "got_one"  # the second wait timed out: the duplicate was ignored
    assert [(s.node_id, s.detail) for s in result.step_log[:2]] == [
        ("first", "next: second"),
        ("second", "next: got_one"),
    ]


async def test_a_duplicate_is_ignored_after_its_event_was_consumed(
    skipping_runner: JourneyRunner,
) -> None:
    handle = await skipping_runner.start(two_waits())
    await handle.signal("event", event("ping", "e-1"))
    await wait_until_waiting(handle, "second")  # e-1 taken by the first wait
    await handle.signal("event", event("ping", "e-1"))
    assert (await handle.result()).outcome == "got_one"


async def test_an_event_with_a_different_id_wakes_the_second_wait(
    skipping_runner: JourneyRunner,
) -> None:
    handle = await skipping_runner.start(two_waits())
    for id_ in ("e-1", "e-1", "e-2"):
        await handle.signal("event", event("ping", id_))
    assert (await handle.result()).outcome == "got_two"


async def test_events_without_an_id_are_never_deduplicated(
    skipping_runner: JourneyRunner,
) -> None:
    handle = await skipping_runner.start(two_waits())
    await handle.signal("event", event("ping", None))
    await handle.signal("event", event("ping", None))
    assert (await handle.result()).outcome == "got_two"


def armed_exit() -> dict[str, Any]:
    """Exit on `stop` only once armed: a `stop` seen before arming must not exit the run later."""
    return {
        "name": "Armed exit",
        "exit_criteria": {
            "all": [
                {"field": "event.type", "op": "eq", "value": "stop"},
                {"field": "user.attributes.armed", "op": "eq", "value": True},
            ]
        },
        "start": "listen",
        "nodes": [
            {
                "id": "listen",
                "type": "wait_for_event",
                "event_type": "go",
                "timeout": "P1D",
                "on_event": "arm",
                "on_timeout": "never_armed",
            },
            {
                "id": "arm",
                "type": "update_attributes",
                "next": "hold",
                "operations": [{"op": "set", "path": "armed", "value": True}],
            },
            {
                "id": "hold",
                "type": "wait_for_event",
                "event_type": "never",
                "timeout": "P1D",
                "on_event": "held",
                "on_timeout": "held",
            },
            end("held"),
            end("never_armed"),
        ],
    }


@pytest.mark.parametrize(("second_id", "outcome"), [("s-1", "held"), ("s-2", "exited")])
async def test_exit_criteria_fire_once_per_event(
    skipping_runner: JourneyRunner, second_id: str, outcome: str
) -> None:
    skipping_runner.seed_user("u1")
    handle = await skipping_runner.start(armed_exit())
    await handle.signal("event", event("stop", "s-1"))  # not armed yet: the run goes on
    await handle.signal("event", event("go", "g-1"))
    await wait_until_waiting(handle, "hold")
    # Armed now: a redelivery of s-1 would exit the run; only a new stop event may.
    await handle.signal("event", event("stop", second_id))
    result = await handle.result()
    assert result.outcome == outcome
    hold = next(step for step in result.step_log if step.node_id == "hold")
    assert hold.outcome == ("ok" if outcome == "held" else "cancelled")


async def test_a_duplicate_exit_event_ends_the_run_once(skipping_runner: JourneyRunner) -> None:
    skipping_runner.seed_user("u1", attributes={"armed": True})
    handle = await skipping_runner.start(armed_exit())
    await wait_until_waiting(handle, "listen")
    await handle.signal("event", event("stop", "s-1"))
    await handle.signal("event", event("stop", "s-1"))
    result = await handle.result()
    assert result.outcome == "exited"
    assert [(s.node_id, s.outcome) for s in result.step_log] == [("listen", "cancelled")]


def ping_loop() -> dict[str, Any]:
    """The wait times out for real (dev server): long enough to outlast a few round trips."""
    return {
        "name": "Ping loop",
        "start": "listen",
        "nodes": [
            {
                "id": "listen",
                "type": "wait_for_event",
                "event_type": "ping",
                "timeout": "PT10S",
                "on_event": "listen",
                "on_timeout": "quiet",
                "max_iterations": 100,
            },
            end("quiet"),
        ],
    }


async def test_dedupe_survives_continue_as_new(journey_runner: JourneyRunner) -> None:
    """On the dev server: the time-skipping server can leave a query that lands while the run
    continues as new unanswered for good (its task completes on the closed run), which hung CI."""
    handle = await journey_runner.start(ping_loop(), max_history_events=20)
    # Lean runs take a ping in ~2 history events (signal, local-activity marker), so twelve
    # pings outgrow 20 events but not necessarily 40.
    for n in range(12):
        await handle.signal("event", event("ping", f"p{n}"))
    # Every ping taken, the run waits again, in a later run than the one that took p0.
    deadline = time.monotonic() + 60
    while True:
        try:
            state: JourneyState = await handle.query(
                "state", result_type=JourneyState, rpc_timeout=timedelta(seconds=5)
            )
        except RPCError as error:
            # A query that lands while the run continues as new can fail; ask again.
            assert time.monotonic() < deadline, f"the run never answered: {error}"
            continue
        listens = [s for s in state.step_log if s.node_id == "listen"]
        if len(listens) == 13 and state.waiting_for:
            break
        assert time.monotonic() < deadline, f"the pings were not all taken: {len(listens)} listens"
        await asyncio.sleep(0.05)
    description = await handle.describe()
    assert description.run_id != handle.first_execution_run_id  # it continued as new

    await handle.signal("event", event("ping", "p0"))  # received before continue-as-new
    await handle.signal("event", event("ping", "p12"))  # new: wakes the wait
    await handle.signal("event", event("ping", "p12"))  # received by this very run
    result = await handle.result()
    assert result.outcome == "quiet"
    assert len([s for s in result.step_log if s.node_id == "listen"]) == 14  # 13 pings, timeout


# ---- the bounded record of ids, on the run context alone --------------------------------------


def test_only_the_most_recent_ids_are_remembered(monkeypatch: pytest.MonkeyPatch) -> None:
    patches: list[str] = []

    def patched(patch_id: str) -> bool:
        patches.append(patch_id)
        return True

    monkeypatch.setattr(workflow, "patched", patched)
    journey = snapshot(two_waits())
    ctx = RunContext(journey, "u1", {}, {"id": "u1", "attributes": {}}, None)
    for n in range(MAX_SEEN_EVENT_IDS + 1):
        assert ctx.receive(event("ping", f"e-{n}"))
    assert set(patches) == {DEDUPE_DELIVERED_EVENTS}
    assert len(ctx.seen_event_ids) == MAX_SEEN_EVENT_IDS
    assert not ctx.receive(event("ping", f"e-{MAX_SEEN_EVENT_IDS}"))
    assert not ctx.receive(event("ping", "e-1"))
    assert ctx.receive(event("ping", "e-0"))  # the oldest was forgotten
    assert not ctx.receive(event("ping", "e-0"))
    assert ctx.receive(event("ping", None)) and ctx.receive(event("ping", None))


def test_without_the_patch_every_delivery_is_received(monkeypatch: pytest.MonkeyPatch) -> None:
    """Histories recorded before the patch replay as they ran: duplicates were received."""
    monkeypatch.setattr(workflow, "patched", lambda _patch_id: False)
    ctx = RunContext(snapshot(two_waits()), "u1", {}, {"id": "u1", "attributes": {}}, None)
    assert ctx.receive(event("ping", "e-1")) and ctx.receive(event("ping", "e-1"))
    assert len(ctx.pending_events) == 2
    assert ctx.seen_event_ids == {}


def test_state_carried_before_dedupe_still_decodes() -> None:
    """A continue-as-new payload written by a worker without dedupe lacks `seen_event_ids`."""
    old = {
        "node_id": "listen",
        "variables": {},
        "user": {"id": "u1"},
        "last_event": None,
        "pending_events": [],
        "visits": {"listen": 3},
        "step_log": [],
        "steps_before": 0,
    }
    assert CarriedState.model_validate(old).seen_event_ids == []

"""Branching, splitting, parallel joins, error routes, loops and continue-as-new."""

from __future__ import annotations

from typing import Any

import pytest
from temporalio.client import WorkflowFailureError

from dsl.nodes.split import Variant, choose_variant
from journey.contracts.runs import JourneyState
from journey.core.db.models import Workflow
from tests.workflows.conftest import JourneyRunner, snapshot


def end(node_id: str, outcome: str | None = None) -> dict[str, Any]:
    return {"id": node_id, "type": "end", "outcome": outcome or node_id}


def set_attr(node_id: str, path: str, value: Any, next_id: str | None) -> dict[str, Any]:
    node = {
        "id": node_id,
        "type": "update_attributes",
        "operations": [{"op": "set", "path": path, "value": value}],
    }
    if next_id:
        node["next"] = next_id
    return node


def journey(start: str, *nodes: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"name": f"test {start}", "start": start, "nodes": list(nodes), **extra}


@pytest.mark.parametrize(("plan", "outcome"), [("pro", "paying"), ("free", "free"), (None, "free")])
async def test_condition_takes_the_first_true_branch(
    skipping_runner: JourneyRunner, plan: str | None, outcome: str
) -> None:
    skipping_runner.seed_user("u1", attributes={"plan": plan} if plan else {})
    document = journey(
        "check",
        {
            "id": "check",
            "type": "condition",
            "default": "free",
            "branches": [
                {
                    "when": {"field": "user.attributes.plan", "op": "in", "value": ["pro", "team"]},
                    "next": "paying",
                }
            ],
        },
        end("paying"),
        end("free"),
    )
    assert (await skipping_runner.run(document)).outcome == outcome


async def test_split_is_sticky_per_user_and_node(skipping_runner: JourneyRunner) -> None:
    variants = [
        {"name": "a", "weight": 50, "next": "got_a"},
        {"name": "b", "weight": 50, "next": "got_b"},
    ]
    document = journey(
        "ab", {"id": "ab", "type": "split", "variants": variants}, end("got_a"), end("got_b")
    )
    typed = [Variant.model_validate(v) for v in variants]
    users = [f"user-{n}" for n in range(40)]
    expected = {user: choose_variant(typed, user, "ab").name for user in users}
    one_of_each = [next(u for u in users if expected[u] == name) for name in ("a", "b")]
    for user in one_of_each:
        first = await skipping_runner.run(document, user_id=user)
        again = await skipping_runner.run(document, user_id=user)
        assert first.outcome == again.outcome == f"got_{expected[user]}"
        assert first.variables["variants"] == {"ab": expected[user]}


@pytest.mark.parametrize(("join", "finished"), [("all", {"fast", "slow"}), ("any", {"fast"})])
async def test_parallel_joins_all_or_any(
    skipping_runner: JourneyRunner, join: str, finished: set[str]
) -> None:
    skipping_runner.seed_user("u1")
    document = journey(
        "fork",
        {
            "id": "fork",
            "type": "parallel",
            "branches": ["fast", "wait"],
            "join": join,
            "next": "done",
        },
        set_attr("fast", "fast", True, None),
        {"id": "wait", "type": "delay", "duration": "P2D", "next": "slow"},
        set_attr("slow", "slow", True, None),
        end("done"),
    )
    result = await skipping_runner.run(document)
    assert result.outcome == "done"
    done = {s.node_id for s in result.step_log if s.outcome == "ok" and s.type != "parallel"}
    assert done - {"wait", "done"} == finished
    assert set(skipping_runner.user().attributes) == finished
    if join == "any":
        assert ("wait", "cancelled") in [(s.node_id, s.outcome) for s in result.step_log]


def failing_webhook(url: str, on_error: str | None) -> dict[str, Any]:
    node = {
        "id": "call",
        "type": "webhook",
        "url": url,
        "next": "ok",
        "retry": {"maximum_attempts": 2, "initial_interval": "PT1S"},
    }
    if on_error:
        node["on_error"] = on_error
    nodes = [node, end("ok"), end("fallback")] if on_error else [node, end("ok")]
    return journey("call", *nodes)


async def test_on_error_is_taken_when_retries_are_exhausted(skipping_runner: JourneyRunner) -> None:
    skipping_runner.seed_user("u1")
    receiver = skipping_runner.env.http_receiver
    receiver.respond("/down", status=503)
    result = await skipping_runner.run(failing_webhook(receiver.url("/down"), "fallback"))
    assert result.outcome == "fallback"
    call = result.step_log[0]
    assert call.outcome == "error" and call.detail is not None and "503" in call.detail
    assert len(receiver.requests) == 2  # the node's retry policy: two attempts


async def test_without_on_error_the_run_fails(skipping_runner: JourneyRunner) -> None:
    skipping_runner.seed_user("u1")
    receiver = skipping_runner.env.http_receiver
    receiver.respond("/gone", status=404)
    handle = await skipping_runner.start(failing_webhook(receiver.url("/gone"), None))
    with pytest.raises(WorkflowFailureError) as failure:
        await handle.result()
    assert "node call (webhook) failed" in str(failure.value.cause)
    assert len(receiver.requests) == 1  # 404 is permanent: no retry
    state = await handle.query("state", result_type=JourneyState)
    assert state.status == "failed"
    assert [(s.node_id, s.outcome) for s in state.step_log] == [("call", "failed")]


def ping_loop(max_iterations: int) -> dict[str, Any]:
    return journey(
        "listen",
        {
            "id": "listen",
            "type": "wait_for_event",
            "event_type": "ping",
            "timeout": "PT1H",
            "on_event": "listen",
            "on_timeout": "quiet",
            "max_iterations": max_iterations,
        },
        end("quiet"),
    )


def ping(n: int) -> dict[str, Any]:
    return {"id": f"p{n}", "type": "ping", "user_id": "u1", "properties": {"n": n}}


async def test_long_runs_continue_as_new_carrying_their_state(
    skipping_runner: JourneyRunner,
) -> None:
    handle = await skipping_runner.start(ping_loop(100), max_history_events=20)
    # Lean runs take a ping in ~2 history events (signal, local-activity marker), so twelve
    # pings outgrow 20 events but not necessarily 40.
    for n in range(12):
        await handle.signal("event", ping(n))
    result = await handle.result()
    assert result.outcome == "quiet"
    listens = [s for s in result.step_log if s.node_id == "listen"]
    assert len(listens) == 13  # 12 pings consumed, then the timeout
    description = await handle.describe()
    assert description.run_id != handle.first_execution_run_id  # it continued as new


async def test_a_loop_stops_at_its_iteration_guard(skipping_runner: JourneyRunner) -> None:
    handle = await skipping_runner.start(ping_loop(3))
    for n in range(5):
        await handle.signal("event", ping(n))
    result = await handle.result()
    assert result.outcome == "max_iterations_exceeded"
    assert len([s for s in result.step_log if s.node_id == "listen"]) == 3


async def test_sub_journey_runs_a_stored_journey_as_a_child(
    skipping_runner: JourneyRunner,
) -> None:
    skipping_runner.seed_user("u1")
    child = journey("mark", set_attr("mark", "from_child", True, "fin"), end("fin", "child_done"))
    with skipping_runner.sessions() as session:
        stored = Workflow(
            name="child", definition=snapshot(child).document.model_dump(mode="json", by_alias=True)
        )
        session.add(stored)
        session.commit()
        child_id = str(stored.id)
    parent = journey(
        "run_child",
        {"id": "run_child", "type": "sub_journey", "journey_id": child_id, "next": "done"},
        end("done"),
    )
    result = await skipping_runner.run(parent)
    assert result.outcome == "done"
    assert result.variables["sub_journeys"] == {"run_child": "child_done"}
    assert skipping_runner.user().attributes == {"from_child": True}

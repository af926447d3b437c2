"""How late N journeys wake from a 5-second delay, against a hand-written `workflow.sleep(5)`.

Ours is a Journey document `delay(PT5S) -> end` run by `journey_worker`, started the way the
starter does (search attributes set, so the run keeps them current). The baseline is the
smallest equivalent Temporal workflow, defined below, on its own fresh task queue with a plain
`temporalio` Worker on the same dev server. The runs of a leg are started at once (bounded
concurrency); the sides never run together, and each side runs in two halves, in the order
baseline, ours, ours, baseline, so neither side always meets the server's larger database (a
single ours-then-baseline order swung the ratio from 0.4 to 2.1 between runs).

Lateness is measured inside the workflow, by the workflow clock: the first `workflow.now()`
after waking minus the wake time it scheduled. The baseline returns it; for ours it comes from
the step log, the delay node's `finished_at` minus (`started_at` + 5 s): the interpreter stamps
`finished_at` in the activation that wakes it. The next node's start is later still, by the
profile reload the interpreter does after every wait; its p99 is in the notes. Reported: p99
and p50 in ms; the ratio above 1 is how much later Journey wakes than raw Temporal.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any, TypeVar

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from sqlalchemy import insert
    from temporalio.client import Client
    from temporalio.worker import Worker

    from bench.core import Result, Scenario, Size, percentile
    from bench.stack import bench_stack
    from dsl.validation import validate_journey
    from journey.contracts.runs import JourneyInput, JourneyResult, JourneySnapshot
    from journey.contracts.search_attributes import start_attributes
    from journey.core.config import Settings
    from journey.core.db.models import User
    from worker import journey_worker
    from workflows.journey import JourneyWorkflow

NAME = "timer_lateness"
DELAY_SECONDS = 5
# Concurrent start calls, and result long-polls (fewer polls held open spare the server while
# it fires the timers); the runs themselves all overlap.
STARTS_AT_ONCE = 50
T = TypeVar("T")

DELAY_JOURNEY = {
    "name": "timer lateness",
    "start": "pause",
    "nodes": [
        {"id": "pause", "type": "delay", "duration": f"PT{DELAY_SECONDS}S", "next": "fin"},
        {"id": "fin", "type": "end"},
    ],
}


@workflow.defn(name="bench.SleepLateness")
class SleepWorkflow:
    """The baseline: sleep, then say how late the wake-up was (seconds, by workflow time)."""

    @workflow.run
    async def run(self, seconds: float) -> float:
        wake = workflow.now() + timedelta(seconds=seconds)
        await workflow.sleep(seconds)
        return (workflow.now() - wake).total_seconds()


async def bounded(calls: Sequence[Callable[[], Awaitable[T]]], limit: int) -> list[T]:
    gate = asyncio.Semaphore(limit)

    async def one(call: Callable[[], Awaitable[T]]) -> T:
        async with gate:
            return await call()

    return list(await asyncio.gather(*(one(call) for call in calls)))


def _journey_lateness(result: JourneyResult) -> tuple[float, float]:
    """(wake lateness, next-node lateness) in seconds, from a finished run's step log."""
    steps = {entry.node_id: entry for entry in result.step_log}
    pause, fin = steps.get("pause"), steps.get("fin")
    if pause is None or fin is None or pause.finished_at is None or pause.outcome != "ok":
        raise AssertionError(f"a run did not pass its delay: {result.step_log}")
    wake = pause.started_at + timedelta(seconds=DELAY_SECONDS)
    return (pause.finished_at - wake).total_seconds(), (fin.started_at - wake).total_seconds()


async def _ours(
    client: Client, settings: Settings, sessions: Any, n: int, *, first: int = 0
) -> list[JourneyResult]:
    """N runs for the users t{first}..; each leg on a worker and task queue of its own."""
    document = validate_journey(DELAY_JOURNEY).document
    assert document is not None
    journey = JourneySnapshot(journey_id="bench-timer", version="1", document=document)
    queue = f"bench-timer-{uuid.uuid4().hex[:8]}"
    async with journey_worker(client, settings, sessions, task_queue=queue):

        def start(i: int) -> Callable[[], Awaitable[Any]]:
            return lambda: client.start_workflow(
                JourneyWorkflow.run,
                JourneyInput(journey=journey, user_id=f"t{i}"),
                id=f"{queue}-{i}",
                task_queue=queue,
                search_attributes=start_attributes(journey.journey_id, journey.version, f"t{i}"),
            )

        handles = await bounded([start(i) for i in range(first, first + n)], STARTS_AT_ONCE)
        return await bounded([handle.result for handle in handles], STARTS_AT_ONCE)


async def _baseline(client: Client, n: int) -> list[float]:
    queue = f"bench-sleep-{uuid.uuid4().hex[:8]}"
    async with Worker(client, task_queue=queue, workflows=[SleepWorkflow]):

        def start(i: int) -> Callable[[], Awaitable[Any]]:
            return lambda: client.start_workflow(
                SleepWorkflow.run, float(DELAY_SECONDS), id=f"{queue}-{i}", task_queue=queue
            )

        handles = await bounded([start(i) for i in range(n)], STARTS_AT_ONCE)
        return await bounded([handle.result for handle in handles], STARTS_AT_ONCE)


async def run(settings: Settings, size: Size) -> Sequence[Result]:
    n = size.n
    async with bench_stack(settings) as stack:
        with stack.session_factory() as session:
            rows = [{"id": f"t{i}", "email": f"t{i}@example.com"} for i in range(n)]
            session.execute(insert(User), rows)
            session.commit()
        half, rest = n // 2, n - n // 2
        base = await _baseline(stack.client, half)
        results = await _ours(stack.client, stack.settings, stack.session_factory, half)
        results += await _ours(
            stack.client, stack.settings, stack.session_factory, rest, first=half
        )
        base += await _baseline(stack.client, rest)
    if len(results) != n or len(base) != n:
        raise AssertionError(f"expected {n} finished runs a side, got {len(results)} / {len(base)}")
    wakes, nexts = zip(*map(_journey_lateness, results), strict=True)
    ms = 1000.0
    notes = {
        "delay_s": DELAY_SECONDS,
        "runs_per_side": n,
        "legs": "baseline-ours-ours-baseline",
        "ours_max_ms": round(max(wakes) * ms, 1),
        "baseline_max_ms": round(max(base) * ms, 1),
        "ours_next_node_p99_ms": round(percentile(nexts, 99) * ms, 1),
        # The baseline runs in the SDK's default sandbox; Journey's worker as configured.
        "ours_sandbox": getattr(stack.settings, "workflow_sandbox", True),
    }
    return [
        Result(
            scenario=NAME,
            metric=f"p{q} lateness",
            ours=percentile(wakes, q) * ms,
            baseline=percentile(base, q) * ms,
            unit="ms",
            n=n,
            better="lower",
            notes=notes,
        )
        for q in (99, 50)
    ]


SCENARIO = Scenario(
    name=NAME,
    description=(
        "p99/p50 lateness of N runs waking from a 5 s delay: a Journey `delay` node vs a "
        "hand-written `workflow.sleep(5)` workflow, measured by workflow time inside the run."
    ),
    run=run,
    quick=Size(quick=True, n=100),
    full=Size(quick=False, n=1000),
)

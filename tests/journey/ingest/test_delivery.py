"""Exactly one run per matching event under redelivery, a SIGKILLed consumer and rebalances.

Sized for CI (hundreds of events); tests/chaos repeats the kills at thousands (`make chaos`)."""

from __future__ import annotations

import asyncio
import random
import re
import signal
from datetime import UTC, datetime, timedelta

from dsl.events import EventEnvelope
from journey.contracts.ids import trigger_workflow_id
from journey.core.db.models import LifecycleEvent, TriggerExecution, WorkflowExecution
from tests.journey.ingest.conftest import IngestStack
from tests.workflows.processes import WorkerProcesses

PRO = {"field": "event.properties.plan", "op": "eq", "value": "pro"}
T0 = datetime(2026, 11, 1, tzinfo=UTC)


def events(count: int, users: int, seed: int) -> list[EventEnvelope]:
    rng = random.Random(seed)
    return [
        EventEnvelope(
            id=f"e{seed}-{n}",
            type="signup",
            user_id=f"u{n % users}",
            timestamp=T0 + timedelta(seconds=n),
            properties={"plan": rng.choice(["pro", "free"]), "n": n},
        )
        for n in range(count)
    ]


def expected_ids(trigger: str, sent: list[EventEnvelope]) -> set[str]:
    return {
        trigger_workflow_id(trigger, event.user_id, event.id, once=False)
        for event in sent
        if event.properties["plan"] == "pro"
    }


async def temporal_runs(ingest: IngestStack) -> int:
    query = f"TaskQueue = '{ingest.settings.temporal_task_queue}'"
    return (await ingest.env.temporal_client.count_workflows(query)).count


async def assert_one_run_per_matching_event(
    ingest: IngestStack, trigger: str, distinct: list[EventEnvelope]
) -> None:
    expected = expected_ids(trigger, distinct)
    started = ingest.started_ids()
    assert len(started) == len(set(started)) == len(expected)
    assert set(started) == expected  # none missing, none extra
    decided = ingest.decisions(trigger)
    assert len(decided) == len({row.event_id for row in decided}) == len(distinct)
    await ingest.wait_for_async(lambda: temporal_runs(ingest), len(expected), "Temporal's count")


async def test_redeliveries_start_exactly_the_expected_runs(ingest_starts: IngestStack) -> None:
    ingest = ingest_starts
    trigger = ingest.trigger(ingest.journey(), conditions=PRO, create_profile=True)
    distinct = events(540, users=60, seed=1)
    rng = random.Random(2)
    sent = list(distinct)
    for _ in range(60):  # 10%: copies of events already sent, later in the stream
        sent.insert(rng.randrange(len(sent) // 2, len(sent) + 1), rng.choice(distinct[:270]))
    assert len(sent) == 600
    async with ingest.consumer() as consumer:
        ingest.produce(sent)
        await ingest.handled(consumer, 600)
    assert ingest.count(LifecycleEvent) == 540
    assert consumer.tally.duplicates == 60
    await assert_one_run_per_matching_event(ingest, trigger, distinct)


async def test_a_consumer_killed_mid_batch_leaves_one_run_per_event(
    ingest_starts: IngestStack, ingest_processes: WorkerProcesses
) -> None:
    ingest = ingest_starts
    trigger = ingest.trigger(ingest.journey(), conditions=PRO, create_profile=True)
    distinct = events(400, users=40, seed=3)
    first = await ingest_processes.start()
    ingest.produce(distinct)
    decided = (TriggerExecution.decision == "started",)
    await ingest.wait_for(lambda: ingest.count(TriggerExecution, *decided) >= 20, "some starts")
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    interrupted = ingest.count(TriggerExecution)
    assert interrupted < len(distinct), "the consumer finished before it was killed"
    await ingest_processes.start()
    await ingest.wait_for(
        lambda: ingest.count(TriggerExecution) == len(distinct), "every event decided"
    )
    await ingest.wait_for(
        lambda: ingest.count(TriggerExecution, TriggerExecution.decision == "pending") == 0,
        "no start left pending",
    )
    await assert_one_run_per_matching_event(ingest, trigger, distinct)
    assert ingest.count(WorkflowExecution) == len(expected_ids(trigger, distinct))


async def test_two_consumers_share_the_partitions_through_a_rebalance(
    ingest_starts: IngestStack, ingest_processes: WorkerProcesses
) -> None:
    ingest = ingest_starts
    trigger = ingest.trigger(ingest.journey(), conditions=PRO, create_profile=True)
    distinct = events(400, users=40, seed=4)
    one = await ingest_processes.start()
    await ingest.wait_for(lambda: "assigned" in ingest_processes.stderr_of(one), "assignment")
    ingest.produce(distinct[:200])
    two = await ingest_processes.start()  # joins mid-stream: the group rebalances
    await ingest.wait_for(
        lambda: (
            "assigned [" in ingest_processes.stderr_of(two)
            and not ingest_processes.stderr_of(two).endswith("assigned []\n")
        ),
        "partitions for the second consumer",
    )
    ingest.produce(distinct[200:])
    await ingest.wait_for(
        lambda: ingest.count(TriggerExecution) == len(distinct), "every event decided"
    )
    for process in (one, two):
        process.send_signal(signal.SIGINT)
    for process in (one, two):
        await asyncio.to_thread(process.wait, 30)
    handled = [handled_events(ingest_processes.stderr_of(p)) for p in (one, two)]
    assert all(count > 0 for count in handled), handled
    await assert_one_run_per_matching_event(ingest, trigger, distinct)


def handled_events(log: str) -> int:
    match = re.search(r"ingest stopped: Tally\(events=(\d+)", log)
    assert match, log[-2000:]
    return int(match.group(1))

"""`journey ingest` SIGKILLed again and again while it consumes 5,000 events.

The events (some matching the trigger's condition, some not; 500 users) are on the topic
before the first consumer starts. Each consumer is SIGKILLed once it has decided another slice
of them and replaced by a fresh process, which re-reads everything after the last committed
offset: batches cut short, starts made but not committed, decisions written but not acted on.
The promise: exactly one run per matching event, none for the others — counted in the
decision rows, the mirrored executions and Temporal's own count.
"""

from __future__ import annotations

import asyncio
import random
import signal
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import pytest

from dsl.events import EventEnvelope
from journey.contracts.ids import trigger_workflow_id
from journey.core.db.models import TriggerExecution
from tests.chaos.helpers import count_runs, report
from tests.harness.env import JourneyEnv
from tests.journey.ingest.conftest import IngestStack, ingest_stack
from tests.workflows.processes import WorkerProcesses

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(600)]

EVENTS, USERS = 5000, 500
KILL_AFTER = 700  # decisions a consumer makes before it is SIGKILLed
PRO = {"field": "event.properties.plan", "op": "eq", "value": "pro"}
T0 = datetime(2026, 11, 1, tzinfo=UTC)


def signups(seed: int = 8) -> list[EventEnvelope]:
    rng = random.Random(seed)
    return [
        EventEnvelope(
            id=f"chaos-{n}",
            type="signup",
            user_id=f"cu{n % USERS}",
            timestamp=T0 + timedelta(seconds=n),
            properties={"plan": rng.choice(["pro", "free", "free"]), "n": n},
        )
        for n in range(EVENTS)
    ]


async def test_one_run_per_matching_event_while_the_consumer_is_killed(
    journey_env: JourneyEnv, tmp_path: Path
) -> None:
    # No worker: the runs only need to start (their fresh task queue is never polled).
    async with ingest_stack(journey_env, worker=False) as ingest:
        trigger = ingest.trigger(ingest.journey(), conditions=PRO, create_profile=True)
        events = signups()
        ingest.produce(events)
        processes = WorkerProcesses(ingest.settings, tmp_path, command="ingest")
        try:
            kills = await kill_while_consuming(ingest, processes)
        except AssertionError as err:
            raise AssertionError(f"{err}\n{processes.logs()}") from err
        finally:
            processes.kill_all()

        matching = [e for e in events if e.properties["plan"] == "pro"]
        expected = {trigger_workflow_id(trigger, e.user_id, e.id, once=False) for e in matching}
        queue = ingest.settings.temporal_task_queue
        client = journey_env.temporal_client
        await ingest.wait_for_async(lambda: count_runs(client, queue), len(expected), "runs")
        decisions = ingest.decisions(trigger)
        started = ingest.started_ids()
        runs = await count_runs(client, queue)
        report(
            "consumer-kills",
            f"{kills} SIGKILLs of `journey ingest` (one every ~{KILL_AFTER} decisions)",
            f"{EVENTS} events ({len(matching)} matching): {len(decisions)} decisions "
            f"({sum(d.decision == 'started' for d in decisions)} started, "
            f"{sum(d.decision == 'not_matched' for d in decisions)} not matched), "
            f"{len(set(started))} distinct runs mirrored, {runs} runs on Temporal",
        )
        assert kills > 0
        assert len(decisions) == len({d.event_id for d in decisions}) == EVENTS
        assert sum(d.decision == "started" for d in decisions) == len(matching)
        assert len(started) == len(set(started)) and set(started) == expected
        assert runs == len(expected) == len(matching)


async def kill_while_consuming(ingest: IngestStack, processes: WorkerProcesses) -> int:
    """Run one consumer at a time, SIGKILLing each after KILL_AFTER more decisions, until every
    event is decided and no start is left pending; returns the number of kills."""
    kills = 0
    consumer = await processes.start()
    while (decided := ingest.count(TriggerExecution)) < EVENTS - KILL_AFTER:
        await ingest.wait_for(partial(decided_at_least, ingest, decided + KILL_AFTER), "progress")
        consumer.send_signal(signal.SIGKILL)
        await asyncio.to_thread(consumer.wait, 10)
        kills += 1
        consumer = await processes.start()
    await ingest.wait_for(partial(decided_at_least, ingest, EVENTS), "every decision")
    pending = TriggerExecution.decision == "pending"
    await ingest.wait_for(lambda: ingest.count(TriggerExecution, pending) == 0, "no pending")
    return kills


def decided_at_least(ingest: IngestStack, count: int) -> bool:
    return ingest.count(TriggerExecution) >= count

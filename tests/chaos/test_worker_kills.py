"""500 journeys while `journey worker` processes are SIGKILLed every few seconds.

Two worker processes share the task queues; KILL_EVERY seconds after the last replacement came
up, one of them (in turn) is SIGKILLed mid-work and a fresh one started, until every run
completed. Each journey sends an
email, calls a webhook and increments its user's counter; a killed attempt is lost mid-flight
and retried by Temporal on the surviving worker. Nothing may be lost and nothing done twice
under a second key: one mail key, one webhook key and one database update per run.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import time

import pytest

from journey.core.config import Settings
from tests.chaos.helpers import (
    assert_effects_once,
    count_effects,
    count_runs,
    effects_journey,
    report,
    seed_users,
    start_runs,
    stored_journey,
    wait_for_completion,
)
from tests.harness.env import JourneyEnv
from tests.workflows.processes import WorkerProcesses

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(600)]

RUNS = 500
KILL_EVERY = 3.0  # seconds between kills (plus the replacement's start-up)
PATH = "/chaos/worker-kills"


async def test_every_run_completes_and_each_effect_happens_once_under_worker_kills(
    journey_env: JourneyEnv, chaos_settings: Settings, worker_processes: WorkerProcesses
) -> None:
    settings, client = chaos_settings, journey_env.temporal_client
    receiver, smtp = journey_env.http_receiver, journey_env.smtp_server
    queue = settings.temporal_task_queue
    users = [f"wk{n}" for n in range(RUNS)]
    seed_users(settings, users)
    journey = stored_journey(settings, effects_journey(receiver.url(PATH)))

    workers = [await worker_processes.start(), await worker_processes.start()]
    await start_runs(client, queue, journey, users)

    killer = InTurnKiller(worker_processes, workers)
    killing = asyncio.create_task(killer.run())
    try:
        await wait_for_completion(client, queue, RUNS, timeout=480)
    except AssertionError as err:
        raise AssertionError(f"{err}\n{worker_processes.logs()}") from err
    finally:
        killing.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await killing
    kills = killer.kills

    completed = await count_runs(client, queue, "Completed")
    effects = count_effects(settings, users, receiver=receiver, path=PATH, smtp=smtp)
    report(
        "worker-kills",
        f"{kills} SIGKILLs of `journey worker` (2 running; one killed {KILL_EVERY:.0f}s after "
        f"the last replacement was ready: one kill every {killer.seconds_per_kill:.0f}s)",
        f"{completed}/{RUNS} runs completed, {effects.summary(RUNS)}",
    )
    assert completed == RUNS
    assert kills > 0, "every run completed before the first kill"
    assert_effects_once(effects, users, webhook=True, email=True)


class InTurnKiller:
    """SIGKILLs the workers in turn every KILL_EVERY seconds, replacing each, until cancelled."""

    def __init__(self, processes: WorkerProcesses, workers: list[subprocess.Popen[bytes]]) -> None:
        self.processes, self.workers, self.kills = processes, workers, 0
        self.started = self.last_kill = time.monotonic()

    @property
    def seconds_per_kill(self) -> float:
        return (self.last_kill - self.started) / max(self.kills, 1)

    async def run(self) -> None:
        victim = 0
        while True:
            await asyncio.sleep(KILL_EVERY)
            self.workers[victim].send_signal(signal.SIGKILL)
            await asyncio.to_thread(self.workers[victim].wait, 10)
            self.kills += 1
            self.last_kill = time.monotonic()
            self.workers[victim] = await self.processes.start()
            victim = 1 - victim

"""The Temporal dev server stopped mid-run and started again on its persisted file.

A private `temporal server start-dev` keeps its state in a SQLite file (WAL, as `journey dev`
runs it). While journeys with a short delay are under way — some before their email, some
sleeping, some past the delay — the server gets SIGTERM, stays down a few seconds and starts
again on the same port and file. The `journey worker` process and the test's client keep
running throughout and reconnect on their own; every run resumes where its history ends and
completes, each effect once.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

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
    wait_until,
)
from tests.harness.chaos_servers import TemporalServer
from tests.harness.env import JourneyEnv
from tests.harness.smtp import SmtpCapture
from tests.workflows.processes import WorkerProcesses

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(400)]

RUNS = 50
DOWN_SECONDS = 5.0
PATH = "/chaos/temporal-restart"


async def test_runs_resume_and_complete_after_a_temporal_restart(
    journey_env: JourneyEnv, chaos_settings: Settings, tmp_path: Path
) -> None:
    receiver, smtp = journey_env.http_receiver, journey_env.smtp_server
    server = TemporalServer(tmp_path)
    settings = chaos_settings.model_copy(update={"temporal_address": server.address})
    queue = settings.temporal_task_queue
    users = [f"tr{n}" for n in range(RUNS)]
    seed_users(settings, users)
    journey = stored_journey(settings, effects_journey(receiver.url(PATH), delay="PT4S"))
    processes = WorkerProcesses(settings, tmp_path)
    try:
        await server.start()
        worker = await processes.start()
        client = await server.client()
        await start_runs(client, queue, journey, users)
        await wait_until(lambda: mails_at_least(smtp, RUNS // 4), "the first emails", 120)

        mailed_before = len(smtp.messages)
        completed_before = await count_runs(client, queue, "Completed")
        await server.stop()  # SIGTERM
        stopped = time.monotonic()
        await asyncio.sleep(DOWN_SECONDS)
        await server.start()
        down = time.monotonic() - stopped

        await wait_for_completion(client, queue, RUNS, timeout=240)
        completed = await count_runs(client, queue, "Completed")
        worker_alive = worker.poll() is None
    except AssertionError as err:
        raise AssertionError(f"{err}\n{processes.logs()}\n{server.logs()}") from err
    finally:
        processes.kill_all()
        await server.stop()

    effects = count_effects(settings, users, receiver=receiver, path=PATH, smtp=smtp)
    report(
        "temporal-restart",
        f"SIGTERM to the Temporal dev server with {mailed_before}/{RUNS} runs past their email "
        f"and {completed_before} completed; down {down:.0f}s, restarted on the same file",
        f"{completed}/{RUNS} runs completed, {effects.summary(RUNS)}, "
        f"worker process {'kept running' if worker_alive else 'DIED'}",
    )
    assert completed_before < RUNS, "every run completed before the restart"
    assert completed == RUNS
    assert_effects_once(effects, users, webhook=True, email=True)
    assert worker_alive


async def mails_at_least(smtp: SmtpCapture, count: int) -> bool:
    return len(smtp.messages) >= count

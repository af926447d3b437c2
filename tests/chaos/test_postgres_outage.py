"""PostgreSQL stopped for ten seconds under running journeys: activities retry, runs complete.

The database is a private PostgreSQL cluster (tests/harness/chaos_servers.py), so it can be
stopped for real (`pg_ctl stop -m fast`: sessions are terminated, the port closes) without
touching anyone else's server; skipped where the server binaries or root are missing. Each
journey updates its user, sleeps, then increments its user's counter; half the runs start
before the outage and half during it. Database steps fail while the server is away and are
retried by Temporal; afterwards every run completes and every update happened once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest
from sqlmodel import Session, func, select

from journey.core.config import Settings
from journey.core.db.engine import create_db_engine, make_session_factory, run_migrations
from journey.core.db.models import Delivery
from tests.chaos.helpers import (
    COUNTER,
    FAST_RETRY,
    assert_effects_once,
    count_effects,
    count_runs,
    report,
    seed_users,
    start_runs,
    stored_journey,
    wait_for_completion,
    wait_until,
)
from tests.harness.chaos_servers import PrivatePostgres, postgres_unavailable_reason
from tests.harness.env import JourneyEnv
from worker import journey_worker

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(400)]

RUNS = 50
DOWN_SECONDS = 10.0

JOURNEY = {
    "name": "chaos: database steps",
    "start": "stamp",
    "nodes": [
        {
            "id": "stamp",
            "type": "update_attributes",
            "timeout": "PT10S",
            "retry": FAST_RETRY,
            "operations": [{"op": "set", "path": "chaos_seen", "value": True}],
            "next": "pause",
        },
        {"id": "pause", "type": "delay", "duration": "PT3S", "next": "count"},
        {
            "id": "count",
            "type": "update_attributes",
            "timeout": "PT10S",
            "retry": FAST_RETRY,
            "operations": [{"op": "increment", "path": COUNTER, "by": 1}],
            "next": "done",
        },
        {"id": "done", "type": "end", "outcome": "done"},
    ],
}


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    reason = postgres_unavailable_reason()
    if reason is not None:
        pytest.skip(f"needs a private PostgreSQL: {reason}")
    server = PrivatePostgres()
    try:
        server.init()
        server.start()
        yield server
    finally:
        server.destroy()


async def test_journeys_complete_across_a_ten_second_database_outage(
    journey_env: JourneyEnv, chaos_settings: Settings, private_postgres: PrivatePostgres
) -> None:
    run_migrations(private_postgres.url)
    settings = chaos_settings.model_copy(update={"database_url": private_postgres.url})
    client, queue = journey_env.temporal_client, settings.temporal_task_queue
    users = [f"pg{n}" for n in range(RUNS)]
    seed_users(settings, users)
    journey = stored_journey(settings, JOURNEY)
    engine = create_db_engine(settings.resolved_database_url)
    try:
        async with journey_worker(client, settings, make_session_factory(engine)):
            await start_runs(client, queue, journey, users[: RUNS // 2])
            await wait_until(lambda: ledger_rows(settings, at_least=RUNS // 4), "some updates")
            before = ledger_count(settings)
            await asyncio.to_thread(private_postgres.stop, "fast")
            stopped = time.monotonic()
            await start_runs(client, queue, journey, users[RUNS // 2 :])
            await asyncio.sleep(DOWN_SECONDS - (time.monotonic() - stopped))
            down = time.monotonic() - stopped
            await asyncio.to_thread(private_postgres.start)
            await wait_for_completion(client, queue, RUNS, timeout=240)
    finally:
        engine.dispose()

    completed = await count_runs(client, queue, "Completed")
    effects = count_effects(settings, users)
    report(
        "postgres-outage",
        f"PostgreSQL stopped (pg_ctl stop -m fast) for {down:.0f}s after {before} of "
        f"{2 * RUNS} updates; {RUNS - RUNS // 2} runs started during the outage",
        f"{completed}/{RUNS} runs completed, {effects.summary(RUNS)}",
    )
    assert before < 2 * RUNS
    assert completed == RUNS
    assert_effects_once(effects, users, webhook=False, email=False, updates=2)


def ledger_count(settings: Settings) -> int:
    engine = create_db_engine(settings.resolved_database_url)
    try:
        with Session(engine) as session:
            return int(session.exec(select(func.count()).select_from(Delivery)).one())
    finally:
        engine.dispose()


async def ledger_rows(settings: Settings, at_least: int) -> bool:
    return await asyncio.to_thread(ledger_count, settings) >= at_least

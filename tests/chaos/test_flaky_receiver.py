"""A webhook receiver that answers 503 to half of the requests: journeys complete by retrying.

The receiver's answers are drawn up front (a seeded coin per request, in arrival order); a 503
is transient for the webhook action, so Temporal retries the attempt with the node's policy
until a 200 comes back. Every run must complete with its webhook delivered under its one key.
"""

from __future__ import annotations

import random

import pytest

from journey.core.config import Settings
from journey.core.db.engine import create_db_engine, make_session_factory
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
from worker import journey_worker

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(300)]

RUNS = 100
PATH = "/chaos/flaky"


async def test_journeys_complete_through_retries_when_half_the_calls_get_503(
    journey_env: JourneyEnv, chaos_settings: Settings
) -> None:
    settings, client = chaos_settings, journey_env.temporal_client
    receiver = journey_env.http_receiver
    queue = settings.temporal_task_queue
    rng = random.Random(5)
    answers = [rng.choice([200, 503]) for _ in range(4 * RUNS)]  # then 200 for ever
    for status in answers:
        receiver.respond(PATH, status=status, json={"ok": status == 200}, times=1)
    users = [f"fr{n}" for n in range(RUNS)]
    seed_users(settings, users)

    journey = stored_journey(settings, effects_journey(receiver.url(PATH), email=False))
    engine = create_db_engine(settings.resolved_database_url)
    try:
        async with journey_worker(client, settings, make_session_factory(engine)):
            await start_runs(client, queue, journey, users)
            await wait_for_completion(client, queue, RUNS, timeout=240)
    finally:
        engine.dispose()

    completed = await count_runs(client, queue, "Completed")
    effects = count_effects(settings, users, receiver=receiver, path=PATH, answers=answers)
    received = len([r for r in receiver.requests if r.path == PATH])
    injected = sum(1 for status in answers[:received] if status == 503)
    report(
        "flaky-receiver",
        f"{injected} answers 503 out of {received} webhook requests (a seeded coin per request)",
        f"{completed}/{RUNS} runs completed, {effects.summary(RUNS)}, "
        f"{sum(1 for key in effects.webhooks if effects.webhook_ok[key])} keys answered 2xx",
    )
    assert completed == RUNS
    assert injected > 0
    assert_effects_once(effects, users, webhook=True, email=False)
    assert all(effects.webhook_ok[key] >= 1 for key in effects.webhooks)  # each delivered
    assert received == injected + sum(effects.webhook_ok.values())  # every 503 was retried

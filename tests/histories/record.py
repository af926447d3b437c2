"""Re-record `tests/histories/<example>.json`: each example journey run to completion for real.

    .venv/bin/python -m tests.histories.record            # every example
    .venv/bin/python -m tests.histories.record referral   # only the named ones

The replay test (tests/workflows/test_replay.py) proves today's interpreter still makes the
same decisions on these histories, so re-record only when a change to the interpreter is meant
to alter its commands (and then think about the runs already in flight: they will hit exactly
the nondeterminism error the replay test reports).

Everything runs against real servers started here, the same ones the test harness uses: the
time-skipping Temporal test server (so day-long delays pass in seconds), an aiosmtpd capture
server, a local HTTP receiver for the webhooks, a tansu broker and a migrated SQLite file. The
scenarios between them reach every node type the examples use, along both the event and the
timeout branch of `wait_for_event` and all three kinds of `delay`.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import subprocess
import sys
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from journey.db.engine import create_db_engine, make_session_factory, run_migrations
from journey.embedded import tansu_command, tansu_environment, temporal_test_server_path
from journey.kafka import ensure_topics
from journey.temporal_client import DATA_CONVERTER
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from tests.harness.env import JourneyEnv, build_settings
from tests.harness.http_receiver import HttpReceiver
from tests.harness.kafka import _stop, _wait_until_ready
from tests.harness.ports import free_port
from tests.harness.smtp import SmtpCapture
from tests.harness.temporal import temporal_target
from tests.workflows.conftest import JourneyRunner, load_example, point_webhooks_at
from tests.workflows.histories import HISTORIES_DIR, WORKFLOW_ID_PREFIX, wait_until_waiting
from worker import journey_worker

TASK_QUEUE = "record-histories"
Handle = WorkflowHandle[Any, Any]
Scenario = Callable[[JourneyRunner, WorkflowEnvironment], Awaitable[Handle]]


_event_ids = itertools.count(1)


def event(type_: str, user_id: str, **properties: Any) -> dict[str, Any]:
    return {
        "id": f"evt-{next(_event_ids)}",
        "type": type_,
        "user_id": user_id,
        "timestamp": "2026-11-22T10:00:00Z",
        "properties": properties,
    }


async def start(runner: JourneyRunner, name: str, document: dict[str, Any], **kw: Any) -> Handle:
    return await runner.start(document, workflow_id=f"{WORKFLOW_ID_PREFIX}{name}", **kw)


# ---- one scenario per example: returns the handle of a run that has completed -----------------


async def onboarding_activation(runner: JourneyRunner, _env: WorkflowEnvironment) -> Handle:
    """delay (1 day) → condition (not active) → email → wait_for_event (event) → lifecycle."""
    runner.seed_user("u-onboarding", attributes={"first_name": "Ada"})
    signup = event("signup", "u-onboarding")
    document = load_example("onboarding_activation")
    handle = await start(
        runner, "onboarding_activation", document, user_id="u-onboarding", entry_event=signup
    )
    # Buffered during the delay; the wait after the nudge email consumes it.
    await handle.signal("event", event("activated", "u-onboarding"))
    return handle


async def abandoned_cart(runner: JourneyRunner, env: WorkflowEnvironment) -> Handle:
    """wait_for_event times out → email → a non-matching then a matching order → attributes."""
    runner.seed_user("u-cart")
    cart = event("cart.abandoned", "u-cart", cart_id="c-1", item_count=3)
    handle = await start(
        runner, "abandoned_cart", load_example("abandoned_cart"), user_id="u-cart", entry_event=cart
    )
    await wait_until_waiting(handle, "wait_for_purchase")
    await env.sleep(timedelta(hours=2, minutes=1))  # past the first wait's timeout
    await wait_until_waiting(handle, "wait_after_reminder")
    await handle.signal("event", event("order.completed", "u-cart", cart_id="c-other"))
    await handle.signal("event", event("order.completed", "u-cart", cart_id="c-1"))
    return handle


async def referral(runner: JourneyRunner, _env: WorkflowEnvironment) -> Handle:
    """parallel (attributes + email, join all) → lifecycle → webhook with save_as."""
    runner.seed_user("u-referrer")
    receiver = runner.env.http_receiver
    receiver.respond("/partners", status=201, json={"receipt": "r-1"})
    document = point_webhooks_at(load_example("referral"), receiver.url("/partners"))
    converted = event("referral.converted", "u-referrer", friend_id="u-friend")
    return await start(runner, "referral", document, user_id="u-referrer", entry_event=converted)


async def trial_expiry(runner: JourneyRunner, env: WorkflowEnvironment) -> Handle:
    """delay until a field → until local time → email → delay → condition → downgrade → emit."""
    now = await env.get_current_time()
    runner.seed_user(
        "u-trial",
        attributes={
            "plan": "trial",
            "timezone": "Europe/Berlin",
            "trial_reminder_at": (now + timedelta(days=2)).isoformat(),
            "trial_ends_at": (now + timedelta(days=6)).isoformat(),
        },
    )
    return await start(runner, "trial_expiry", load_example("trial_expiry"), user_id="u-trial")


async def winback_ab(runner: JourneyRunner, _env: WorkflowEnvironment) -> Handle:
    """split → email → wait_for_event times out after a week → end."""
    runner.seed_user("u-winback")
    return await start(runner, "winback_ab", load_example("winback_ab"), user_id="u-winback")


SCENARIOS: dict[str, Scenario] = {
    "onboarding_activation": onboarding_activation,
    "abandoned_cart": abandoned_cart,
    "referral": referral,
    "trial_expiry": trial_expiry,
    "winback_ab": winback_ab,
}
EXPECTED_OUTCOMES = {
    "onboarding_activation": "activated",
    "abandoned_cart": "purchased",
    "referral": "rewarded",
    "trial_expiry": "downgraded",
    "winback_ab": "lost",
}


# ---- the servers ------------------------------------------------------------------------------


@contextmanager
def tansu_broker(log_dir: Path) -> Iterator[str]:
    """A tansu broker with in-memory storage, started as tests/harness/kafka.py does."""
    url = f"tcp://127.0.0.1:{free_port()}"
    bootstrap = url.removeprefix("tcp://")
    log_path = log_dir / "tansu.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            tansu_command(url, cluster_id="journey-record"),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=tansu_environment(),
        )
    try:
        _wait_until_ready(process, bootstrap, log_path)
        yield bootstrap
    finally:
        _stop(process)


@contextmanager
def capture_servers() -> Iterator[tuple[SmtpCapture, HttpReceiver]]:
    smtp, receiver = SmtpCapture(), HttpReceiver()
    smtp.start()
    receiver.start()
    try:
        yield smtp, receiver
    finally:
        receiver.stop()
        smtp.stop()


async def record(names: list[str], suffix: str = "") -> None:
    with (
        tempfile.TemporaryDirectory(prefix="journey-record-") as tmp,
        capture_servers() as (smtp, receiver),
        tansu_broker(Path(tmp)) as bootstrap,
    ):
        data_dir = Path(tmp)
        env = await WorkflowEnvironment.start_time_skipping(
            test_server_existing_path=temporal_test_server_path(), data_converter=DATA_CONVERTER
        )
        try:
            settings = build_settings(
                data_dir=data_dir,
                temporal_address=temporal_target(env.client),
                task_queue=TASK_QUEUE,
                kafka_bootstrap=bootstrap,
                smtp_host=smtp.host,
                smtp_port=smtp.port,
                log_level="INFO",
            )
            run_migrations(settings.resolved_database_url)
            ensure_topics(settings)
            engine = create_db_engine(settings.resolved_database_url)
            sessions = make_session_factory(engine)
            journey_env = JourneyEnv(settings, env.client, receiver, smtp, bootstrap, data_dir)
            runner = JourneyRunner(
                journey_env,
                env.client,
                sessions,
                TASK_QUEUE,
                visible=False,
                now=env.get_current_time,
            )
            try:
                async with journey_worker(env.client, settings, sessions, task_queue=TASK_QUEUE):
                    for name in names:
                        await record_one(name, runner, env, suffix)
            finally:
                engine.dispose()
        finally:
            await env.shutdown()


async def record_one(
    name: str, runner: JourneyRunner, env: WorkflowEnvironment, suffix: str = ""
) -> None:
    handle = await SCENARIOS[name](runner, env)
    result = await asyncio.wait_for(handle.result(), timeout=120)
    if result.outcome != EXPECTED_OUTCOMES[name]:
        raise RuntimeError(f"{name}: outcome {result.outcome!r}, not {EXPECTED_OUTCOMES[name]!r}")
    history = await handle.fetch_history()
    # Compact, one event per line: small files whose diffs still read event by event.
    events = json.loads(history.to_json())["events"]
    text = '{"events": [\n' + ",\n".join(json.dumps(e, sort_keys=True) for e in events) + "\n]}\n"
    path = HISTORIES_DIR / f"{name}{suffix}.json"
    path.write_text(text)
    steps = " → ".join(step.node_id for step in result.step_log)
    sys.stdout.write(f"{path.name}: {len(events)} events, outcome {result.outcome}: {steps}\n")


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description="Record example histories for replay tests.")
    parser.add_argument("examples", nargs="*", help=f"default: all of {sorted(SCENARIOS)}")
    parser.add_argument(
        "--suffix",
        default="",
        help="write <example><suffix>.json, keeping older recordings (and the patch branches "
        "they exercise) next to the new ones",
    )
    args = parser.parse_args(argv)
    unknown = sorted(set(args.examples) - set(SCENARIOS))
    if unknown:
        raise SystemExit(f"unknown example(s) {unknown}; choose from {sorted(SCENARIOS)}")
    asyncio.run(record(args.examples or list(SCENARIOS), args.suffix))


if __name__ == "__main__":
    main(sys.argv[1:])

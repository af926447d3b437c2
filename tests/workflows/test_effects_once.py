"""A retried effect is not repeated when its first attempt did happen (the effect ledger).

To make the first attempt apply its change *after* Temporal has given up on it, the test holds
SQLite's write lock: attempt 1 blocks in its commit until its start-to-close timeout passes and
attempt 2 starts; then the lock is released and both attempts race to apply the same effect
key. Only one may win, and the journey still completes.

update_attributes runs as a local activity (workflows/patches.py), so its attempts are not
visible on the server while they run: the lock is held for two timeouts plus two retry
intervals, and the history's local-activity marker then shows that attempt 2 did happen.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
from typing import Any

from sqlmodel import select

from journey.contracts.actions import UPDATE_ATTRIBUTES
from journey.core.config import Settings
from journey.core.db.engine import create_db_engine, make_session_factory
from journey.core.db.models import Delivery
from tests.harness.env import JourneyEnv
from tests.workflows.conftest import JourneyRunner
from tests.workflows.processes import WorkerProcesses, seed_user, start_run, user_attributes

INCREMENT_ONCE = {
    "name": "increment once",
    "start": "count",
    "nodes": [
        {
            "id": "count",
            "type": "update_attributes",
            "timeout": "PT2S",
            "retry": {"initial_interval": "PT1S", "maximum_interval": "PT1S"},
            "operations": [{"op": "increment", "path": "logins", "by": 1}],
            "next": "fin",
        },
        {"id": "fin", "type": "end"},
    ],
}


# Attempt 1 times out after 2 s, attempt 2 starts 1 s later and blocks too.
# Not a sleep standing in for an event: what must pass while the lock is held is time itself
# (attempt 1's start-to-close timeout, so that its effect lands after Temporal gave up on it),
# and a local activity's attempts show nowhere outside the worker while they run. Whether
# attempt 2 did happen is asserted afterwards (the first test reads the history's marker).
LOCK_HELD_SECONDS = 2 * (2 + 1)


async def wait_for_attempt(handle: Any, attempt: int) -> None:
    """For activities that go through the server (email, webhook)."""
    for _ in range(600):
        description = await handle.describe()
        pending = description.raw_description.pending_activities
        if pending and pending[0].attempt >= attempt:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"activity never reached attempt {attempt}")


def local_activity_attempts(history: Any) -> list[int]:
    attempts = []
    for event in history.events:
        marker = event.marker_recorded_event_attributes
        if event.HasField("marker_recorded_event_attributes") and "data" in marker.details:
            data = json.loads(marker.details["data"].payloads[0].data)
            if data.get("activity_type") == UPDATE_ATTRIBUTES:
                attempts.append(int(data["attempt"]))
    return attempts


async def test_an_increment_whose_attempt_timed_out_is_applied_once(
    journey_runner: JourneyRunner,
) -> None:
    journey_runner.seed_user("u1", attributes={"logins": 0})
    blocker = sqlite3.connect(
        database_path(journey_runner.env.settings), isolation_level=None, timeout=30
    )
    try:
        blocker.execute("BEGIN IMMEDIATE")  # take the write lock
        handle = await journey_runner.start(INCREMENT_ONCE)
        await asyncio.sleep(LOCK_HELD_SECONDS)  # attempt 1 timed out while blocked on the lock
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    result = await handle.result()

    assert result.outcome == "completed"
    assert journey_runner.user("u1").attributes == {"logins": 1}
    assert [step.node_id for step in result.step_log] == ["count", "fin"]
    assert max(local_activity_attempts(await handle.fetch_history())) >= 2


async def test_a_worker_killed_after_its_increment_does_not_apply_it_again(
    journey_env: JourneyEnv, worker_processes: WorkerProcesses
) -> None:
    settings = journey_env.settings
    seed_user(settings, "u1")
    first = await worker_processes.start()
    blocker = sqlite3.connect(database_path(settings), isolation_level=None, timeout=30)
    try:
        blocker.execute("BEGIN IMMEDIATE")
        handle = await start_run(journey_env, INCREMENT_ONCE)
        await asyncio.sleep(LOCK_HELD_SECONDS)  # attempt 1 timed out, still blocked
    finally:
        blocker.execute("ROLLBACK")  # attempt 1 now commits its increment and ledger row
        blocker.close()
    await wait_for_delivery(settings, "count")
    first.send_signal(signal.SIGKILL)  # after the increment, whatever Temporal heard of it
    await asyncio.to_thread(first.wait, 10)

    await worker_processes.start()
    result = await asyncio.wait_for(handle.result(), timeout=90)
    assert result.outcome == "completed"
    assert [step.node_id for step in result.step_log] == ["count", "fin"]
    assert user_attributes(settings, "u1") == {"logins": 1}


def database_path(settings: Settings) -> str:
    return settings.resolved_database_url.removeprefix("sqlite:///")


async def wait_for_delivery(settings: Settings, node_id: str) -> None:
    engine = create_db_engine(settings.resolved_database_url)
    try:
        for _ in range(600):
            with make_session_factory(engine)() as session:
                found = session.exec(select(Delivery).where(Delivery.node_id == node_id)).first()
            if found is not None:
                return
            await asyncio.sleep(0.05)
    finally:
        engine.dispose()
    raise AssertionError(f"no delivery recorded for {node_id}")


ONE_EMAIL = {
    "name": "email once",
    "start": "welcome",
    "nodes": [
        {
            "id": "welcome",
            "type": "email",
            "to": "{{ user.email }}",
            "subject": "Welcome",
            "text": "Hello",
            "timeout": "PT2S",
            "retry": {"initial_interval": "PT1S", "maximum_interval": "PT1S"},
            "next": "fin",
        },
        {"id": "fin", "type": "end"},
    ],
}


async def test_a_worker_killed_after_a_recorded_send_does_not_send_again(
    journey_env: JourneyEnv, worker_processes: WorkerProcesses
) -> None:
    """The send happens, Temporal gives up on that attempt, then the send is recorded and the
    worker is killed: the retry on a new worker must find the record instead of re-sending."""
    settings, smtp = journey_env.settings, journey_env.smtp_server
    seed_user(settings, "u1")
    first = await worker_processes.start()
    blocker = sqlite3.connect(database_path(settings), isolation_level=None, timeout=30)
    try:
        blocker.execute("BEGIN IMMEDIATE")  # the ledger write after the send will wait
        handle = await start_run(journey_env, ONE_EMAIL)
        await smtp.wait_for(1, timeout=60)  # sent; the attempt is now stuck recording it
        first.send_signal(signal.SIGSTOP)
        await wait_for_attempt(handle, 2)  # Temporal timed attempt 1 out
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
        first.send_signal(signal.SIGCONT)
    await wait_for_delivery(settings, "welcome")  # attempt 1 recorded its send
    first.send_signal(signal.SIGKILL)
    await asyncio.to_thread(first.wait, 10)

    await worker_processes.start()
    result = await asyncio.wait_for(handle.result(), timeout=90)
    assert result.outcome == "completed"
    assert len(smtp.messages) == 1
    history = await handle.fetch_history()
    completed = [
        e for e in history.events if e.HasField("activity_task_completed_event_attributes")
    ]
    scheduled = {
        e.event_id: e
        for e in history.events
        if e.HasField("activity_task_scheduled_event_attributes")
    }
    started = {
        e.event_id: e.activity_task_started_event_attributes.attempt
        for e in history.events
        if e.HasField("activity_task_started_event_attributes")
    }
    email_attempts = [
        started[c.activity_task_completed_event_attributes.started_event_id]
        for c in completed
        if scheduled[
            c.activity_task_completed_event_attributes.scheduled_event_id
        ].activity_task_scheduled_event_attributes.activity_type.name
        == "journey.send_email"
    ]
    assert email_attempts and email_attempts[0] >= 2  # a retry ran, and it did not send

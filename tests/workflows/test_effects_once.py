"""A retried effect is not repeated when its first attempt did happen (the effect ledger).

To make the first attempt apply its change *after* Temporal has given up on it, the test holds
SQLite's write lock: attempt 1 blocks in its commit until its start-to-close timeout passes and
Temporal starts attempt 2; then the lock is released and both attempts race to apply the same
effect key. Only one may win, and the journey still completes.
"""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any

from tests.workflows.conftest import JourneyRunner

INCREMENT_ONCE = {
    "name": "increment once",
    "start": "count",
    "nodes": [
        {"id": "count", "type": "update_attributes", "timeout": "PT2S",
         "retry": {"initial_interval": "PT1S", "maximum_interval": "PT1S"},
         "operations": [{"op": "increment", "path": "logins", "by": 1}], "next": "fin"},
        {"id": "fin", "type": "end"},
    ],
}  # fmt: skip


async def wait_for_attempt(handle: Any, attempt: int) -> None:
    for _ in range(600):
        description = await handle.describe()
        pending = description.raw_description.pending_activities
        if pending and pending[0].attempt >= attempt:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"activity never reached attempt {attempt}")


async def test_an_increment_whose_attempt_timed_out_is_applied_once(
    journey_runner: JourneyRunner,
) -> None:
    journey_runner.seed_user("u1", attributes={"logins": 0})
    database = journey_runner.env.settings.resolved_database_url.removeprefix("sqlite:///")
    blocker = sqlite3.connect(database, isolation_level=None, timeout=30)
    try:
        blocker.execute("BEGIN IMMEDIATE")  # take the write lock
        handle = await journey_runner.start(INCREMENT_ONCE)
        await wait_for_attempt(handle, 2)  # attempt 1 timed out while blocked on the lock
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    result = await handle.result()

    assert result.outcome == "completed"
    assert journey_runner.user("u1").attributes == {"logins": 1}
    assert [step.node_id for step in result.step_log] == ["count", "fin"]

"""A worker process SIGKILLed mid-journey: a fresh worker finishes the run, each step once.

The promise of running journeys on Temporal is that a crash loses nothing and repeats nothing
the history already records: the new worker rebuilds the run by replaying its history (no
sticky cache survives a kill), retries only the activity that was in flight, and the step log
it rebuilds lists every node once. The worker runs as the real `journey worker` process, so
this also covers its start-up from `JOURNEY_*` variables.
"""

from __future__ import annotations

import asyncio
import signal
from typing import Any

from journey.contracts.runs import JourneyResult
from tests.harness.env import JourneyEnv
from tests.workflows.histories import wait_until_waiting
from tests.workflows.processes import WorkerProcesses, seed_user, start_run, user_attributes

NODE_IDS = ["welcome", "crm", "wait", "mark", "done"]
# Hang guards only: the test asserts what happened, never how fast.
RUN_TIMEOUT = 90.0


def crash_journey(crm_url: str) -> dict[str, Any]:
    """email → webhook → wait_for_event → update_attributes → end.

    The webhook's `timeout` (activity start-to-close) is short so the attempt lost with the
    killed worker is retried within seconds instead of after the default minute.
    """
    return {
        "name": "Survives a worker crash",
        "start": "welcome",
        "nodes": [
            {
                "id": "welcome",
                "type": "email",
                "to": "{{ user.email }}",
                "subject": "Welcome",
                "text": "Hello",
                "next": "crm",
            },
            {
                "id": "crm",
                "type": "webhook",
                "url": crm_url,
                "body": {"user": "{{ user.id }}"},
                "timeout": "PT3S",
                "retry": {"initial_interval": "PT1S"},
                "next": "wait",
            },
            {
                "id": "wait",
                "type": "wait_for_event",
                "event_type": "activated",
                "timeout": "P1D",
                "on_event": "mark",
                "on_timeout": "gave_up",
            },
            {
                "id": "mark",
                "type": "update_attributes",
                "operations": [{"op": "set", "path": "survived", "value": True}],
                "next": "done",
            },
            {"id": "done", "type": "end", "outcome": "finished"},
            {"id": "gave_up", "type": "end", "outcome": "gave_up"},
        ],
    }


async def test_a_killed_worker_is_replaced_and_each_step_runs_once(
    journey_env: JourneyEnv, worker_processes: WorkerProcesses
) -> None:
    settings, receiver = journey_env.settings, journey_env.http_receiver
    seed_user(settings, "u1")
    # The first call is held far longer than the node's 3 s timeout: the kill lands mid-call.
    receiver.respond("/crm", json={"ok": True}, delay=30, times=1)
    first = await worker_processes.start()
    handle = await start_run(journey_env, crash_journey(receiver.url("/crm")))
    try:
        await receiver.wait_for(1, timeout=RUN_TIMEOUT)  # the webhook activity is in flight
        first.send_signal(signal.SIGKILL)
        assert await asyncio.to_thread(first.wait, 10) == -signal.SIGKILL

        await worker_processes.start()
        await wait_until_waiting(handle, "wait", timeout=RUN_TIMEOUT)
        await handle.signal("event", {"id": "e-1", "type": "activated", "user_id": "u1"})
        result: JourneyResult = await asyncio.wait_for(handle.result(), timeout=RUN_TIMEOUT)
    except (AssertionError, TimeoutError) as err:
        raise AssertionError(f"{err}\n{worker_processes.logs()}") from err

    assert result.outcome == "finished"
    assert [step.node_id for step in result.step_log] == NODE_IDS
    assert all(step.outcome == "ok" for step in result.step_log), result.step_log
    assert len(journey_env.smtp_server.messages) == 1  # completed before the kill: not resent
    calls = receiver.requests
    assert len(calls) == 2  # the lost attempt and its retry, both the same effect
    assert calls[0].headers["webhook-id"] == calls[1].headers["webhook-id"]
    assert user_attributes(settings, "u1") == {"survived": True}

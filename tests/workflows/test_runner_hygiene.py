"""The test harness itself: a run a test leaves open must not outlive the test.

A stray run on the time-skipping server freezes its clock for every later test (its next
workflow task waits for a worker that is gone), so `runner_on` terminates what a test left.
"""

from __future__ import annotations

from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from tests.harness.env import JourneyEnv
from tests.workflows.conftest import runner_on
from tests.workflows.histories import wait_until_waiting


def waits(timeout: str) -> dict[str, object]:
    listen = {
        "id": "listen",
        "type": "wait_for_event",
        "event_type": "never",
        "timeout": timeout,
        "on_event": "done",
        "on_timeout": "done",
    }
    end = {"id": "done", "type": "end", "outcome": "done"}
    return {"name": f"Waits {timeout}", "start": "listen", "nodes": [listen, end]}


async def test_a_run_left_waiting_is_terminated_when_its_test_ends(
    journey_env: JourneyEnv, time_skipping_env: WorkflowEnvironment
) -> None:
    client = time_skipping_env.client
    async for runner in runner_on(journey_env, client, visible=False):
        left_open = await runner.start(waits("P30D"))
        finished = await runner.start(waits("PT1H"))  # skips an hour only
        await wait_until_waiting(left_open, "listen")
        assert (await finished.result()).outcome == "done"
    assert (await left_open.describe()).status == WorkflowExecutionStatus.TERMINATED
    assert (await finished.describe()).status == WorkflowExecutionStatus.COMPLETED

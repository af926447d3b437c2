"""Email and webhook activities run on their own (rate-limited) task queues when throttled,
on the workflow's queue (eager dispatch) when not."""

from __future__ import annotations

from typing import Any

import pytest
from temporalio.client import WorkflowHistory

from journey.contracts.runs import JourneyInput, JourneyResult
from journey.services.runs.starter import start_run
from tests.workflows.conftest import JourneyRunner, snapshot
from workflows.patches import LEAN_HISTORY, THROTTLED_ACTION_QUEUES
from workflows.task_queues import action_queue


def test_queue_names_derive_from_the_workflow_queue() -> None:
    assert action_queue("journey", "journey.send_email") == "journey.email"
    assert action_queue("journey", "journey.call_webhook") == "journey.webhook"
    assert action_queue("journey", "journey.update_attributes") is None


def test_only_throttled_kinds_leave_the_workflow_queue() -> None:
    assert action_queue("journey", "journey.send_email", []) is None
    assert action_queue("journey", "journey.send_email", ["email"]) == "journey.email"
    assert action_queue("journey", "journey.call_webhook", ["email"]) is None
    assert action_queue("journey", "journey.update_attributes", ["email", "webhook"]) is None


def actions(runner: JourneyRunner) -> dict[str, Any]:
    return {
        "name": "throttled",
        "start": "mail",
        "nodes": [
            {
                "id": "mail",
                "type": "email",
                "to": "{{ user.email }}",
                "subject": "s",
                "text": "t",
                "next": "hook",
            },
            {
                "id": "hook",
                "type": "webhook",
                "url": runner.env.http_receiver.url("/h"),
                "next": "mark",
            },
            {
                "id": "mark",
                "type": "update_attributes",
                "operations": [{"op": "set", "path": "done", "value": True}],
                "next": "fin",
            },
            {"id": "fin", "type": "end"},
        ],
    }


def scheduled_queues(history: WorkflowHistory) -> dict[str, str]:
    """Activity type -> the task queue its task was scheduled on."""
    scheduled = (
        e.activity_task_scheduled_event_attributes
        for e in history.events
        if e.HasField("activity_task_scheduled_event_attributes")
    )
    return {task.activity_type.name: task.task_queue.name for task in scheduled}


async def test_actions_are_scheduled_on_their_queues(journey_runner: JourneyRunner) -> None:
    """A run whose starter did not say (as before `throttled_actions`): both kinds throttled."""
    journey_runner.seed_user("u1")
    handle = await journey_runner.start(actions(journey_runner))
    await handle.result()
    history = await handle.fetch_history()
    queues = scheduled_queues(history)
    base = journey_runner.task_queue
    assert queues["journey.send_email"] == f"{base}.email"
    assert queues["journey.call_webhook"] == f"{base}.webhook"
    # A short database step runs as a local activity, in the workflow's own worker.
    assert "journey.update_attributes" not in queues
    # New runs record the one lean-history patch, which stands for THROTTLED_ACTION_QUEUES and the
    # others.
    markers = b"".join(
        e.marker_recorded_event_attributes.SerializeToString()
        for e in history.events
        if e.HasField("marker_recorded_event_attributes")
    )
    assert LEAN_HISTORY.encode() in markers and THROTTLED_ACTION_QUEUES.encode() not in markers


@pytest.mark.parametrize(
    ("throttled", "email_queue", "webhook_queue"),
    [([], "", ""), (["email"], ".email", ""), (["email", "webhook"], ".email", ".webhook")],
)
async def test_the_starter_names_the_throttled_kinds(
    journey_runner: JourneyRunner, throttled: list[str], email_queue: str, webhook_queue: str
) -> None:
    """start_run records the kinds in the run's input; the others run on the workflow's queue,
    served by the main worker."""
    journey_runner.seed_user("u1")
    workflow_id = f"journey-test-queues-{'-'.join(throttled) or 'none'}"
    journey_runner.started.append(workflow_id)
    run_id, _ = await start_run(
        journey_runner.client,
        task_queue=journey_runner.task_queue,
        snapshot=snapshot(actions(journey_runner)),
        user_id="u1",
        workflow_id=workflow_id,
        throttled_actions=throttled,
    )
    handle = journey_runner.client.get_workflow_handle(
        workflow_id, run_id=run_id, result_type=JourneyResult
    )
    assert (await handle.result()).outcome == "completed"
    assert len(journey_runner.env.http_receiver.requests) == 1
    assert journey_runner.user("u1").attributes["done"] is True
    base = journey_runner.task_queue
    history = await handle.fetch_history()
    queues = scheduled_queues(history)
    assert queues["journey.send_email"] == base + email_queue
    assert queues["journey.call_webhook"] == base + webhook_queue
    started = history.events[0].workflow_execution_started_event_attributes
    recorded = JourneyInput.model_validate_json(started.input.payloads[0].data)
    assert recorded.throttled_actions == throttled

"""Email and webhook activities run on their own (rate-limited) task queues."""

from __future__ import annotations

from tests.workflows.conftest import JourneyRunner
from workflows.patches import LEAN_HISTORY
from workflows.task_queues import PATCH_ID, action_queue


def test_queue_names_derive_from_the_workflow_queue() -> None:
    assert action_queue("journey", "journey.send_email") == "journey.email"
    assert action_queue("journey", "journey.call_webhook") == "journey.webhook"
    assert action_queue("journey", "journey.update_attributes") is None


async def test_actions_are_scheduled_on_their_queues(journey_runner: JourneyRunner) -> None:
    journey_runner.seed_user("u1")
    document = {
        "name": "throttled",
        "start": "mail",
        "nodes": [
            {"id": "mail", "type": "email", "to": "{{ user.email }}", "subject": "s",
             "text": "t", "next": "hook"},
            {"id": "hook", "type": "webhook", "url": journey_runner.env.http_receiver.url("/h"),
             "next": "mark"},
            {"id": "mark", "type": "update_attributes",
             "operations": [{"op": "set", "path": "done", "value": True}], "next": "fin"},
            {"id": "fin", "type": "end"},
        ],
    }  # fmt: skip
    handle = await journey_runner.start(document)
    await handle.result()
    history = await handle.fetch_history()
    queues = {
        e.activity_task_scheduled_event_attributes.activity_type.name:
            e.activity_task_scheduled_event_attributes.task_queue.name
        for e in history.events
        if e.HasField("activity_task_scheduled_event_attributes")
    }  # fmt: skip
    base = journey_runner.task_queue
    assert queues["journey.send_email"] == f"{base}.email"
    assert queues["journey.call_webhook"] == f"{base}.webhook"
    # A short database step runs as a local activity, in the workflow's own worker.
    assert "journey.update_attributes" not in queues
    # New runs record the one lean-history patch, which stands for PATCH_ID and the others.
    markers = b"".join(
        e.marker_recorded_event_attributes.SerializeToString()
        for e in history.events
        if e.HasField("marker_recorded_event_attributes")
    )
    assert LEAN_HISTORY.encode() in markers and PATCH_ID.encode() not in markers

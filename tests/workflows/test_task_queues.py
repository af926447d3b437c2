"""Email and webhook activities run on their own (rate-limited) task queues when they go
through the server; tests/workflows/test_local_first.py shows when they do."""

from __future__ import annotations

from workflows.task_queues import action_queue


def test_queue_names_derive_from_the_workflow_queue() -> None:
    assert action_queue("journey", "journey.send_email") == "journey.email"
    assert action_queue("journey", "journey.call_webhook") == "journey.webhook"
    assert action_queue("journey", "journey.update_attributes") is None

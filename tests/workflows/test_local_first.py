"""Webhook and email try once as a local activity; failures and throttled workers use the queue
(workflows/local_first.py)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import WorkflowFailureError
from temporalio.common import RetryPolicy

from activities.contracts import CALL_WEBHOOK, SEND_EMAIL
from tests.harness.env import JourneyEnv
from tests.workflows.conftest import JourneyRunner, runner_on
from workflows.local_first import retries_after_one, tries_locally_first
from workflows.patches import LEAN_HISTORY, LOCAL_FIRST


def mail_then_hook(hook_url: str, **hook: Any) -> dict[str, Any]:
    return {
        "name": "local first",
        "start": "mail",
        "nodes": [
            {"id": "mail", "type": "email", "to": "{{ user.email }}", "subject": "s",
             "text": "t", "next": "hook"},
            {"id": "hook", "type": "webhook", "url": hook_url, "next": "fin", **hook},
            {"id": "fin", "type": "end"},
        ],
    }  # fmt: skip


def scheduled_queues(events: list[HistoryEvent]) -> dict[str, str]:
    """Activity type -> task queue of every activity scheduled through the server."""
    return {
        e.activity_task_scheduled_event_attributes.activity_type.name:
            e.activity_task_scheduled_event_attributes.task_queue.name
        for e in events if e.HasField("activity_task_scheduled_event_attributes")
    }  # fmt: skip


def local_attempts(events: list[HistoryEvent]) -> list[tuple[str, bool]]:
    """(activity type, failed) of every local activity marker, in order."""
    found = []
    for event in events:
        marker = event.marker_recorded_event_attributes
        if event.HasField("marker_recorded_event_attributes") and "data" in marker.details:
            data = json.loads(marker.details["data"].payloads[0].data)
            found.append((data["activity_type"], marker.HasField("failure")))
    return found


def patch_markers(events: list[HistoryEvent]) -> bytes:
    return b"".join(
        e.marker_recorded_event_attributes.SerializeToString()
        for e in events
        if e.HasField("marker_recorded_event_attributes")
        and e.marker_recorded_event_attributes.marker_name == "core_patch"
    )


async def test_webhook_and_email_succeed_locally_without_activity_tasks(
    journey_runner: JourneyRunner,
) -> None:
    receiver, smtp = journey_runner.env.http_receiver, journey_runner.env.smtp_server
    journey_runner.seed_user("u1")
    handle = await journey_runner.start(mail_then_hook(receiver.url("/h")))
    assert (await handle.result()).outcome == "completed"
    events = list((await handle.fetch_history()).events)

    assert scheduled_queues(events) == {}
    attempts = local_attempts(events)
    assert (SEND_EMAIL, False) in attempts and (CALL_WEBHOOK, False) in attempts
    assert len(smtp.messages) == 1 and len(receiver.requests) == 1
    # One patch marker: the newest generation stands for lean-history and the rest.
    markers = patch_markers(events)
    assert LOCAL_FIRST.encode() in markers and LEAN_HISTORY.encode() not in markers


async def test_a_failed_local_attempt_goes_on_to_the_queue_with_the_attempts_left(
    journey_runner: JourneyRunner,
) -> None:
    receiver = journey_runner.env.http_receiver
    receiver.respond("/flaky", status=503, times=2)
    journey_runner.seed_user("u1")
    document = mail_then_hook(
        receiver.url("/flaky"),
        retry={"maximum_attempts": 4, "initial_interval": "PT1S", "backoff_coefficient": 3},
    )
    handle = await journey_runner.start(document)
    assert (await handle.result()).outcome == "completed"
    events = list((await handle.fetch_history()).events)

    # Attempt 1 (local) and attempt 2 (queued) got 503; the queued activity's retry succeeded.
    assert len(receiver.requests) == 3
    assert (CALL_WEBHOOK, True) in local_attempts(events)
    assert scheduled_queues(events) == {CALL_WEBHOOK: f"{journey_runner.task_queue}.webhook"}
    scheduled = next(
        e.activity_task_scheduled_event_attributes for e in events
        if e.HasField("activity_task_scheduled_event_attributes")
    )  # fmt: skip
    assert scheduled.retry_policy.maximum_attempts == 3
    assert scheduled.retry_policy.initial_interval.ToTimedelta() == timedelta(seconds=3)
    # The second attempt waited the policy's first interval, as a regular retry would.
    timers = [e for e in events if e.HasField("timer_started_event_attributes")]
    assert [t.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta()
            for t in timers] == [timedelta(seconds=1)]  # fmt: skip


async def test_a_permanent_local_failure_is_not_retried_on_the_queue(
    journey_runner: JourneyRunner,
) -> None:
    receiver = journey_runner.env.http_receiver
    receiver.respond("/gone", status=410)
    journey_runner.seed_user("u1")
    handle = await journey_runner.start(mail_then_hook(receiver.url("/gone")))
    with pytest.raises(WorkflowFailureError):
        await handle.result()
    events = list((await handle.fetch_history()).events)
    assert len(receiver.requests) == 1
    assert scheduled_queues(events) == {}
    assert (CALL_WEBHOOK, True) in local_attempts(events)


@pytest.fixture
async def throttled_runner(journey_env: JourneyEnv) -> AsyncIterator[JourneyRunner]:
    settings = journey_env.settings.model_copy(
        update={"email_max_per_second": 50.0, "webhook_max_per_second": 50.0}
    )
    env = dataclasses.replace(journey_env, settings=settings)
    async for runner in runner_on(env, journey_env.temporal_client, visible=True):
        yield runner


async def test_a_worker_with_rate_limits_sends_actions_through_their_queues(
    throttled_runner: JourneyRunner,
) -> None:
    receiver, smtp = throttled_runner.env.http_receiver, throttled_runner.env.smtp_server
    throttled_runner.seed_user("u1")
    handle = await throttled_runner.start(mail_then_hook(receiver.url("/h")))
    assert (await handle.result()).outcome == "completed"
    events = list((await handle.fetch_history()).events)

    base = throttled_runner.task_queue
    assert scheduled_queues(events) == {
        SEND_EMAIL: f"{base}.email",
        CALL_WEBHOOK: f"{base}.webhook",
    }
    # The refused local attempts reached nothing, and were not counted as attempts.
    assert len(smtp.messages) == 1 and len(receiver.requests) == 1
    for event in events:
        if event.HasField("activity_task_started_event_attributes"):
            assert event.activity_task_started_event_attributes.attempt == 1


def test_retries_after_one_keep_the_total_and_the_schedule() -> None:
    policy = RetryPolicy(
        maximum_attempts=5,
        initial_interval=timedelta(seconds=2),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(seconds=3),
    )
    rest = retries_after_one(policy)
    assert rest is not None
    assert rest.maximum_attempts == 4
    assert rest.initial_interval == timedelta(seconds=3)  # 4 s, capped by maximum_interval
    assert retries_after_one(dataclasses.replace(policy, maximum_attempts=1)) is None
    unlimited = retries_after_one(dataclasses.replace(policy, maximum_attempts=0))
    assert unlimited is not None and unlimited.maximum_attempts == 0


def test_only_short_external_actions_try_locally() -> None:
    assert tries_locally_first(CALL_WEBHOOK, timedelta(seconds=60))
    assert tries_locally_first(SEND_EMAIL, timedelta(seconds=30))
    assert not tries_locally_first(CALL_WEBHOOK, timedelta(minutes=5))
    assert not tries_locally_first("journey.emit_event", timedelta(seconds=1))


async def test_a_failed_local_database_step_takes_its_on_error_branch(
    journey_runner: JourneyRunner,
) -> None:
    """Local activity failures arrive unwrapped; `on_error` must still catch them."""
    journey_runner.seed_user("u1", attributes={"visits": "many"})  # not a number
    document = {
        "name": "bad increment",
        "start": "count",
        "nodes": [
            {"id": "count", "type": "update_attributes", "on_error": "fallback", "next": "fin",
             "operations": [{"op": "increment", "path": "visits", "by": 1}]},
            {"id": "fin", "type": "end"},
            {"id": "fallback", "type": "end"},
        ],
    }  # fmt: skip
    result = await journey_runner.run(document)
    assert [step.node_id for step in result.step_log] == ["count", "fallback"]
    assert result.step_log[0].outcome == "error" and "AttributeTypeError" in str(
        result.step_log[0].detail
    )

"""call_webhook against the real HTTP receiver: rendering, headers and status classification.

The receiver listens on 127.0.0.1, which the SSRF guard refuses unless allowlisted; these tests
allow it explicitly (tests/activities/test_webhook_ssrf.py covers the guard itself).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import pytest_asyncio
from temporalio.exceptions import ApplicationError

from activities.webhook import WebhookActivities, retry_after_delay
from journey.contracts.actions import (
    TEMPLATE_ERROR,
    WEBHOOK_REDIRECT,
    WEBHOOK_REJECTED,
    WEBHOOK_RESPONSE_TOO_LARGE,
    WEBHOOK_TRANSIENT,
)
from tests.activities.helpers import assert_non_retryable, assert_retryable
from tests.activities.webhook_helpers import (
    call,
    request,
    webhook_activities,
    webhook_settings,
)
from tests.harness.env import JourneyEnv
from tests.harness.http_receiver import HttpReceiver
from tests.harness.ports import free_port

MAX_RESPONSE_BYTES = 4096


@pytest_asyncio.fixture
async def webhook(journey_env: JourneyEnv) -> AsyncIterator[WebhookActivities]:
    settings = webhook_settings(journey_env.settings, webhook_max_response_bytes=MAX_RESPONSE_BYTES)
    async with webhook_activities(settings) as activities:
        yield activities


async def test_renders_and_posts_json_with_webhook_id(
    webhook: WebhookActivities, http_receiver: HttpReceiver
) -> None:
    http_receiver.respond("/crm", json={"contact_id": 42})
    req = request(http_receiver.url("/crm?user={{ user.id }}"))
    result = await call(webhook, req)

    assert result.status == 200
    assert result.body == {"contact_id": 42}
    [received] = http_receiver.requests
    assert received.method == "POST"
    assert received.query == {"user": ["u1"]}
    assert received.json() == {"user": "u1", "plan": "pro", "n": 1}
    assert received.headers["webhook-id"] == req.meta.effect_key
    assert received.headers["x-plan"] == "pro"
    assert received.headers["content-type"] == "application/json"


async def test_no_body_sends_no_content_and_text_response_is_returned(
    webhook: WebhookActivities, http_receiver: HttpReceiver
) -> None:
    http_receiver.respond("/ping", body=b"pong", headers={"Content-Type": "text/plain"})
    result = await call(webhook, request(http_receiver.url("/ping"), method="get", body=None))
    assert result.body == "pong"
    [received] = http_receiver.requests
    assert received.method == "GET"
    assert received.body == b""


async def test_accept_status_is_honoured(
    webhook: WebhookActivities, http_receiver: HttpReceiver
) -> None:
    http_receiver.respond("/gone", status=404, json={"error": "no such contact"})
    result = await call(webhook, request(http_receiver.url("/gone"), accept_status=[200, 404]))
    assert result.status == 404
    assert result.body == {"error": "no such contact"}

    http_receiver.respond("/created", status=201)
    with pytest.raises(ApplicationError) as info:
        await call(webhook, request(http_receiver.url("/created"), accept_status=[200]))
    assert_non_retryable(info, WEBHOOK_REJECTED)


async def test_client_error_is_non_retryable(
    webhook: WebhookActivities, http_receiver: HttpReceiver
) -> None:
    http_receiver.respond("/crm", status=404, body=b"not found")
    with pytest.raises(ApplicationError) as info:
        await call(webhook, request(http_receiver.url("/crm")))
    assert_non_retryable(info, WEBHOOK_REJECTED)
    assert "404" in str(info.value)


async def test_server_error_is_retryable_and_honours_retry_after(
    webhook: WebhookActivities, http_receiver: HttpReceiver
) -> None:
    http_receiver.respond("/crm", status=503, headers={"Retry-After": "7"}, times=1)
    with pytest.raises(ApplicationError) as info:
        await call(webhook, request(http_receiver.url("/crm")))
    assert_retryable(info, WEBHOOK_TRANSIENT)
    assert info.value.next_retry_delay == timedelta(seconds=7)
    assert "503" in str(info.value)
    # The next attempt reaches the (now healthy) receiver with the same dedupe key.
    req = request(http_receiver.url("/crm"))
    assert (await call(webhook, req)).status == 200


@pytest.mark.parametrize("status", [408, 429, 500, 502])
async def test_transient_statuses_are_retryable(
    webhook: WebhookActivities, http_receiver: HttpReceiver, status: int
) -> None:
    headers = {"Retry-After": "3"} if status == 429 else None
    http_receiver.respond("/crm", status=status, headers=headers)
    with pytest.raises(ApplicationError) as info:
        await call(webhook, request(http_receiver.url("/crm")))
    assert_retryable(info, WEBHOOK_TRANSIENT)
    expected = timedelta(seconds=3) if status == 429 else None
    assert info.value.next_retry_delay == expected


async def test_connection_reset_is_retryable(
    webhook: WebhookActivities, http_receiver: HttpReceiver
) -> None:
    http_receiver.fail("/crm")
    with pytest.raises(ApplicationError) as info:
        await call(webhook, request(http_receiver.url("/crm")))
    assert_retryable(info, WEBHOOK_TRANSIENT)


async def test_connection_refused_and_timeout_are_retryable(
    webhook: WebhookActivities, http_receiver: HttpReceiver
) -> None:
    with pytest.raises(ApplicationError) as info:
        await call(webhook, request(f"http://127.0.0.1:{free_port()}/crm"))
    assert_retryable(info, WEBHOOK_TRANSIENT)

    http_receiver.respond("/slow", delay=5.0)
    with pytest.raises(ApplicationError) as info:
        await call(webhook, request(http_receiver.url("/slow"), request_timeout_seconds=0.2))
    assert_retryable(info, WEBHOOK_TRANSIENT)
    assert "timed out" in str(info.value)


async def test_redirect_is_not_followed(
    webhook: WebhookActivities, http_receiver: HttpReceiver
) -> None:
    http_receiver.respond("/old", status=302, headers={"Location": http_receiver.url("/new")})
    with pytest.raises(ApplicationError) as info:
        await call(webhook, request(http_receiver.url("/old")))
    assert_non_retryable(info, WEBHOOK_REDIRECT)
    assert [r.path for r in http_receiver.requests] == ["/old"]


async def test_oversized_response_is_non_retryable(
    webhook: WebhookActivities, http_receiver: HttpReceiver
) -> None:
    http_receiver.respond("/big", body=b"x" * (MAX_RESPONSE_BYTES + 1))
    with pytest.raises(ApplicationError) as info:
        await call(webhook, request(http_receiver.url("/big")))
    assert_non_retryable(info, WEBHOOK_RESPONSE_TOO_LARGE)


async def test_template_error_sends_nothing(
    webhook: WebhookActivities, http_receiver: HttpReceiver
) -> None:
    with pytest.raises(ApplicationError) as info:
        await call(webhook, request(http_receiver.url("/crm"), body={"x": "{{ vars.missing }}"}))
    assert_non_retryable(info, TEMPLATE_ERROR)
    assert http_receiver.requests == []


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    now = datetime(2026, 11, 22, 10, 0, 0, tzinfo=UTC)
    assert retry_after_delay("120", now) == timedelta(seconds=120)
    assert retry_after_delay("Sun, 22 Nov 2026 10:00:30 GMT", now) == timedelta(seconds=30)
    assert retry_after_delay("Sun, 22 Nov 2026 09:00:00 GMT", now) == timedelta(0)
    assert retry_after_delay("999999", now) == timedelta(hours=1)
    assert retry_after_delay("soon", now) is None
    assert retry_after_delay(None, now) is None

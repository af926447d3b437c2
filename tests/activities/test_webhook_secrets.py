"""Secrets, signatures and the effect ledger of call_webhook, against the real HTTP receiver.

Signatures are verified with the `standardwebhooks` package (the reference implementation of
the scheme, which we did not write), not with our own signing code.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from pydantic import SecretStr
from standardwebhooks import Webhook, WebhookVerificationError
from temporalio.exceptions import ApplicationError

from activities.webhook import WebhookActivities
from activities.webhook_secrets import INVALID_SECRET, REDACTED, UNKNOWN_SECRET
from tests.activities.helpers import assert_non_retryable
from tests.activities.webhook_helpers import (
    CRM_TOKEN,
    SECRETS,
    SIGNING_KEY,
    call,
    request,
    webhook_activities,
    webhook_settings,
)
from tests.harness.env import JourneyEnv
from tests.harness.http_receiver import HttpReceiver, RecordedRequest


@pytest_asyncio.fixture
async def webhook(journey_env: JourneyEnv) -> AsyncIterator[WebhookActivities]:
    async with webhook_activities(webhook_settings(journey_env.settings)) as activities:
        yield activities


def verify(secret: str | bytes, received: RecordedRequest) -> None:
    """Raises WebhookVerificationError unless `received` is signed with `secret`."""
    Webhook(secret).verify(received.body, received.headers, json_parse=False)


async def test_standard_webhooks_signature_verifies(
    webhook: WebhookActivities, http_receiver: HttpReceiver
) -> None:
    req = request(http_receiver.url("/crm"), signing_secret="signing")
    await call(webhook, req)

    [received] = http_receiver.requests
    assert received.headers["webhook-id"] == req.meta.effect_key
    assert received.headers["webhook-signature"].startswith("v1,")
    verify(SECRETS["signing"], received)  # the whsec_ form, as receivers configure it
    verify(SIGNING_KEY, received)
    with pytest.raises(WebhookVerificationError):
        verify("whsec_" + "QW5vdGhlclNlY3JldEtleQ==", received)
    tampered = RecordedRequest(**{**received.__dict__, "body": received.body + b" "})
    with pytest.raises(WebhookVerificationError):
        verify(SECRETS["signing"], tampered)


async def test_raw_secret_signs_with_its_utf8_bytes(
    webhook: WebhookActivities, http_receiver: HttpReceiver
) -> None:
    await call(webhook, request(http_receiver.url("/crm"), body=None, signing_secret="raw_signing"))
    [received] = http_receiver.requests
    assert received.body == b""
    verify(SECRETS["raw_signing"].encode(), received)


async def test_secret_header_reaches_the_receiver_but_not_the_result(
    webhook: WebhookActivities, http_receiver: HttpReceiver
) -> None:
    # A receiver that echoes the credential back must not smuggle it into the result.
    http_receiver.respond("/crm", json={"seen": CRM_TOKEN, "note": f"auth={CRM_TOKEN}"})
    req = request(http_receiver.url("/crm"), secret_headers={"Authorization": "crm_token"})
    result = await call(webhook, req)

    [received] = http_receiver.requests
    assert received.headers["authorization"] == CRM_TOKEN
    assert received.headers["x-plan"] == "pro"
    assert CRM_TOKEN not in result.model_dump_json()
    assert result.body == {"seen": REDACTED, "note": f"auth={REDACTED}"}
    assert CRM_TOKEN not in req.model_dump_json()  # the input names the secret only


async def test_echoed_secret_is_redacted_from_the_failure(
    webhook: WebhookActivities, http_receiver: HttpReceiver
) -> None:
    http_receiver.respond("/crm", status=400, body=f"bad token {CRM_TOKEN}".encode())
    req = request(http_receiver.url("/crm"), secret_headers={"Authorization": "crm_token"})
    with pytest.raises(ApplicationError) as info:
        await call(webhook, req)
    assert CRM_TOKEN not in str(info.value)
    assert REDACTED in str(info.value)


@pytest.mark.parametrize(
    "overrides",
    [
        {"secret_headers": {"Authorization": "no_such_secret"}},
        {"signing_secret": "no_such_secret"},
    ],
)
async def test_unknown_secret_is_non_retryable_and_sends_nothing(
    webhook: WebhookActivities, http_receiver: HttpReceiver, overrides: dict[str, object]
) -> None:
    with pytest.raises(ApplicationError) as info:
        await call(webhook, request(http_receiver.url("/crm"), **overrides))
    assert_non_retryable(info, UNKNOWN_SECRET)
    assert "no_such_secret" in str(info.value)
    assert http_receiver.requests == []


async def test_unusable_secrets_are_refused_without_showing_them(
    journey_env: JourneyEnv, http_receiver: HttpReceiver
) -> None:
    settings = webhook_settings(journey_env.settings)
    bad = {"multiline": "line-one\r\nX-Injected: yes", "not_base64": "whsec_!!not-base64!!"}
    extra = {name: SecretStr(value) for name, value in bad.items()}
    settings = webhook_settings(settings, secrets={**settings.secrets, **extra})
    async with webhook_activities(settings) as hook:
        for overrides in (
            {"secret_headers": {"Authorization": "multiline"}},
            {"signing_secret": "not_base64"},
        ):
            with pytest.raises(ApplicationError) as info:
                await call(hook, request(http_receiver.url("/crm"), **overrides))
            assert_non_retryable(info, INVALID_SECRET)
            assert not any(value in str(info.value) for value in bad.values())
    assert http_receiver.requests == []


async def test_ledger_returns_the_recorded_result_without_calling_again(
    webhook: WebhookActivities, http_receiver: HttpReceiver
) -> None:
    http_receiver.respond("/crm", json={"contact": "c-1"}, times=1)
    http_receiver.respond("/crm", json={"contact": "c-2"})
    req = request(http_receiver.url("/crm"), signing_secret="signing")

    first = await call(webhook, req)
    again = await call(webhook, req)

    assert first.body == {"contact": "c-1"}
    assert again == first
    assert len(http_receiver.requests) == 1
    # Another effect key is another call.
    other = request(http_receiver.url("/crm"))
    assert (await call(webhook, other)).body == {"contact": "c-2"}
    assert len(http_receiver.requests) == 2


async def test_failed_call_is_not_recorded(
    webhook: WebhookActivities, http_receiver: HttpReceiver
) -> None:
    http_receiver.respond("/crm", status=503, times=1)
    req = request(http_receiver.url("/crm"))
    with pytest.raises(ApplicationError):
        await call(webhook, req)
    assert (await call(webhook, req)).status == 200
    assert len(http_receiver.requests) == 2

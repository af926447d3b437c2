"""Building the webhook activity for tests: settings with secrets (bound to the receivers' host)
and allowlist, a real ledger.

The activity gets what the worker gives it: an httpx client, Settings and an effect ledger on
the test's migrated SQLite database (`journey_env`). Settings are copied from `journey_env` with
the allowlist stated explicitly, so these tests do not depend on the harness default.
"""

from __future__ import annotations

import base64
import ipaddress
import socket
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr
from temporalio.testing import ActivityEnvironment

from activities.webhook import WebhookActivities
from journey.contracts.actions import CallWebhookInput, CallWebhookResult
from journey.core.config import Settings
from journey.core.db.engine import create_db_engine, make_session_factory
from journey.core.ledger import Ledger
from tests.activities.helpers import make_context, make_meta

# Values the tests look for in places they must never appear (results, history, errors).
CRM_TOKEN = "Bearer crm-token-9f8e7d6c5b4a"
SIGNING_KEY = b"standard-webhooks-signing-key-32b"
SECRETS = {
    "crm_token": CRM_TOKEN,
    "signing": "whsec_" + base64.b64encode(SIGNING_KEY).decode(),
    "raw_signing": "a-raw-signing-secret-value",
}


# Every secret is bound to the receivers' host (JOURNEY_SECRET_HOSTS): unbound, none is sent.
SECRET_HOSTS = {name: ["127.0.0.1"] for name in SECRETS}


def webhook_settings(
    base: Settings, *, allowlist: Sequence[str] = ("127.0.0.1",), **overrides: Any
) -> Settings:
    values: dict[str, Any] = {
        "webhook_allowlist": list(allowlist),
        "secrets": {name: SecretStr(value) for name, value in SECRETS.items()},
        "secret_hosts": SECRET_HOSTS,
    }
    values.update(overrides)
    return base.model_copy(update=values)


@asynccontextmanager
async def webhook_activities(
    settings: Settings, client: httpx.AsyncClient | None = None
) -> AsyncIterator[WebhookActivities]:
    """The activity with a ledger on the settings' (migrated) database."""
    engine = create_db_engine(settings.resolved_database_url)
    try:
        ledger = Ledger(make_session_factory(engine))
        if client is not None:
            yield WebhookActivities(client, settings, ledger)
        else:
            async with httpx.AsyncClient(follow_redirects=False) as own:
                yield WebhookActivities(own, settings, ledger)
    finally:
        engine.dispose()


def request(url: str, **overrides: Any) -> CallWebhookInput:
    values: dict[str, Any] = {
        "meta": make_meta(),
        "method": "POST",
        "url": url,
        "headers": {"X-Plan": "{{ user.attributes.plan }}"},
        "body": {"user": "{{ user.id }}", "plan": "{{ user.attributes.plan }}", "n": 1},
        "request_timeout_seconds": 5.0,
        "context": make_context(),
    }
    values.update(overrides)
    return CallWebhookInput.model_validate(values)


async def call(webhook: WebhookActivities, req: CallWebhookInput) -> CallWebhookResult:
    return await ActivityEnvironment().run(webhook.call_webhook, req)


def hosts_file_loopback_name() -> str | None:
    """A name other than localhost that /etc/hosts maps to 127.x, and that resolves only to
    127.x (the receivers listen on 127.0.0.1); None when the machine has none."""
    loopback = ipaddress.ip_network("127.0.0.0/8")
    hosts = Path("/etc/hosts")
    if not hosts.exists():
        return None
    for line in hosts.read_text().splitlines():
        fields = line.split("#", 1)[0].split()
        if len(fields) < 2:
            continue
        try:
            if ipaddress.ip_address(fields[0]) not in loopback:
                continue
        except ValueError:
            continue
        for name in fields[1:]:
            if name == "localhost" or "localhost." in name:
                continue
            try:
                infos = socket.getaddrinfo(name, 80, type=socket.SOCK_STREAM)
            except OSError:
                continue
            if all(ipaddress.ip_address(info[4][0]) in loopback for info in infos):
                return name
    return None


HOSTS_NAME = hosts_file_loopback_name()

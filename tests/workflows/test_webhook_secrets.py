"""A webhook with a secret header and a signature, run by the real workflow and worker.

The point is where secrets are *not*: the run's history (everything Temporal stores, what the
web UI shows) must not contain either value, while the receiver still gets the header and a
signature that the reference `standardwebhooks` package verifies. The worker gets its own
settings with the secrets bound to, and the SSRF allowlist opened for, the receiver's 127.0.0.1.
"""

from __future__ import annotations

import base64
import dataclasses
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest_asyncio
from pydantic import SecretStr
from standardwebhooks import Webhook
from temporalio.testing import WorkflowEnvironment

from tests.activities.webhook_helpers import CRM_TOKEN, SECRET_HOSTS, SECRETS
from tests.harness.env import JourneyEnv
from tests.workflows.conftest import JourneyRunner, runner_on


def payload_texts(node: Any) -> Iterator[str]:
    """The decoded `data` of every payload in a history's JSON (it is base64 there)."""
    if isinstance(node, dict):
        if "data" in node and "metadata" in node and isinstance(node["data"], str):
            yield base64.b64decode(node["data"]).decode("utf-8", errors="replace")
        for value in node.values():
            yield from payload_texts(value)
    elif isinstance(node, list):
        for item in node:
            yield from payload_texts(item)


@pytest_asyncio.fixture
async def secret_runner(
    journey_env: JourneyEnv, time_skipping_env: WorkflowEnvironment
) -> AsyncIterator[JourneyRunner]:
    """Like `skipping_runner`, with secrets and the loopback allowlist in the worker's settings."""
    settings = journey_env.settings.model_copy(
        update={
            "secrets": {name: SecretStr(value) for name, value in SECRETS.items()},
            "secret_hosts": SECRET_HOSTS,
            "webhook_allowlist": ["127.0.0.1"],
        }
    )
    env = dataclasses.replace(journey_env, settings=settings)
    client, now = time_skipping_env.client, time_skipping_env.get_current_time
    async for runner in runner_on(env, client, visible=False, now=now):
        yield runner


async def test_secrets_reach_the_receiver_but_not_the_history(
    secret_runner: JourneyRunner,
) -> None:
    receiver = secret_runner.env.http_receiver
    receiver.respond("/crm", json={"contact": "c-7", "echo": CRM_TOKEN})
    secret_runner.seed_user("u1", attributes={"plan": "pro"})
    document = {
        "name": "Signed CRM sync",
        "start": "crm",
        "nodes": [
            {
                "id": "crm",
                "type": "webhook",
                "url": receiver.url("/crm"),
                "headers": {
                    "Authorization": {"secret": "crm_token"},
                    "X-Plan": "{{ user.attributes.plan }}",
                },
                "signing_secret": "signing",
                "body": {"user": "{{ user.id }}"},
                "save_as": "crm",
                "next": "done",
            },
            {"id": "done", "type": "end", "outcome": "synced"},
        ],
    }

    handle = await secret_runner.start(document)
    result = await handle.result()

    assert result.outcome == "synced"
    assert result.variables["crm"] == {"contact": "c-7", "echo": "[redacted]"}
    [received] = receiver.requests
    assert received.headers["authorization"] == CRM_TOKEN
    assert received.headers["x-plan"] == "pro"
    assert received.json() == {"user": "u1"}
    Webhook(SECRETS["signing"]).verify(received.body, received.headers)

    history = (await handle.fetch_history()).to_json()
    everything = "\n".join([history, *payload_texts(json.loads(history))])
    assert '"crm_token"' in everything  # the name travels (payloads decoded) ...
    assert '"signing_secret":"signing"' in everything
    for value in SECRETS.values():  # ... the values do not, in any form
        encoded = base64.b64encode(value.encode()).decode()
        for form in (value, value.removeprefix("whsec_"), encoded):
            assert form not in everything

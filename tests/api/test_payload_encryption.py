"""Payload encryption end to end: a real run under the AES-GCM codec leaves no user data in
Temporal's history, still completes, and the codec endpoint (the Temporal UI's and CLI's way
in) decrypts it for callers with the role, and only for them.

History is read raw from the server with a client that has no codec, as anyone with access to
Temporal (or its database) would see it.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import httpx
import pytest_asyncio
from google.protobuf import json_format
from pydantic import SecretStr
from temporalio.api.common.v1 import Payload
from temporalio.api.history.v1 import History
from temporalio.client import Client

from api.auth import Role
from journey.core.config import Settings
from journey.core.db.engine import SessionFactory, create_db_engine, make_session_factory
from journey.core.db.models import User, Workflow, WorkflowExecution, WorkflowVersion
from journey.core.embedded.servers import temporal_cli_path
from journey.core.temporal.client import connect_client
from tests.api.auth_helpers import auth_settings, bearer
from tests.api.live_server import serve_api
from tests.harness.env import JourneyEnv
from tests.harness.temporal import temporal_target
from worker import journey_worker

EMAIL = "ada.lovelace.7f3a@example.com"
CARD = "card-ending-4242-secret"
NOTE = "allergic-to-peanuts-note"
KEY1, KEY2 = os.urandom(32), os.urandom(32)
WAITS_THEN_REMEMBERS = {
    "name": "wait, remember, end",
    "start": "wait",
    "nodes": [
        {
            "id": "wait",
            "type": "wait_for_event",
            "event_type": "purchase",
            "timeout": "P3D",
            "on_event": "remember",
            "on_timeout": "gave_up",
        },
        {
            "id": "remember",
            "type": "update_attributes",
            "next": "bought",
            "operations": [
                {"op": "set", "path": "last_card", "value": "{{ event.properties.card }}"}
            ],
        },
        {"id": "bought", "type": "end", "outcome": "bought"},
        {"id": "gave_up", "type": "end", "outcome": "gave_up"},
    ],
}


def keys(current: str, **material: bytes) -> dict[str, Any]:
    encoded = {k: SecretStr(base64.b64encode(v).decode()) for k, v in material.items()}
    return {"payload_keys": encoded, "payload_key_id": current}


@dataclass
class Encrypted:
    env: JourneyEnv
    sessions: SessionFactory
    stack: AsyncExitStack
    settings: Settings | None = None
    url: str = ""

    async def serve(self, **key_settings: Any) -> Client:
        """Worker and gateway under these keys (each with its own codec-carrying client)."""
        settings = auth_settings(self.env.settings, **key_settings)
        client = await connect_client(settings)
        await self.stack.enter_async_context(journey_worker(client, settings, self.sessions))
        self.url = await self.stack.enter_async_context(serve_api(settings))
        self.settings = settings
        return client

    def journey(self) -> str:
        with self.sessions() as session:
            session.add(User(id="ada", email=EMAIL, attributes={"note": NOTE}))
            row = Workflow(
                name="enc", definition=WAITS_THEN_REMEMBERS, version="1", status="active"
            )
            session.add(row)
            session.commit()
            session.add(WorkflowVersion(workflow_id=row.id, version="1", definition=row.definition))
            session.commit()
            return str(row.id)

    def headers(self, role: Role = Role.operator) -> dict[str, str]:
        assert self.settings is not None
        return bearer(self.settings, role)

    async def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        async with httpx.AsyncClient(base_url=self.url, timeout=30) as http:
            return await http.request(method, path, **kwargs)

    async def finished(self, execution_id: str) -> WorkflowExecution:
        for _ in range(200):
            with self.sessions() as session:
                row = session.get(WorkflowExecution, uuid.UUID(execution_id))
            if row is not None and row.status not in ("pending", "running"):
                return row
            await asyncio.sleep(0.1)
        raise AssertionError("the run did not finish")

    async def raw_history(self, workflow_id: str) -> History:
        """As stored on the server: read with the harness client, which has no codec."""
        history = await self.env.temporal_client.get_workflow_handle(workflow_id).fetch_history()
        return History(events=history.events)


@pytest_asyncio.fixture
async def encrypted(journey_env: JourneyEnv) -> AsyncIterator[Encrypted]:
    engine = create_db_engine(journey_env.settings.resolved_database_url)
    try:
        async with AsyncExitStack() as stack:
            yield Encrypted(journey_env, make_session_factory(engine), stack)
    finally:
        engine.dispose()


def started_input(history: History) -> Payload:
    return history.events[0].workflow_execution_started_event_attributes.input.payloads[0]


def key_ids(history: History) -> set[bytes]:
    raw = history.SerializeToString()
    return {key for key in (b"k1", b"k2") if b"encryption-key-id\x12\x02" + key in raw}


async def start_and_wait(enc: Encrypted, journey_id: str) -> dict[str, Any]:
    started = await enc.call(
        "POST",
        f"/api/workflows/{journey_id}/start",
        headers=enc.headers(),
        json={
            "user_id": "ada",
            "variables": {"note": NOTE},
            "entry_event": {
                "id": "e1",
                "type": "signup",
                "user_id": "ada",
                "properties": {"email": EMAIL},
            },
        },
    )
    assert started.status_code == 201, started.text
    execution: dict[str, Any] = started.json()
    for _ in range(100):  # the wait is reached once the detail shows it (via the state query)
        detail = await enc.call("GET", f"/api/executions/{execution['id']}", headers=enc.headers())
        if detail.json().get("waiting_for"):
            return execution
        await asyncio.sleep(0.1)
    raise AssertionError("the run never reached its wait")


async def purchase(enc: Encrypted, execution_id: str) -> None:
    event = {"type": "purchase", "user_id": "ada", "properties": {"card": CARD}}
    sent = await enc.call(
        "POST", f"/api/executions/{execution_id}/events", headers=enc.headers(), json=event
    )
    assert sent.status_code == 202, sent.text


async def test_user_data_is_ciphertext_in_history_and_the_run_completes(
    encrypted: Encrypted,
) -> None:
    await encrypted.serve(**keys("k1", k1=KEY1))
    execution = await start_and_wait(encrypted, encrypted.journey())
    await purchase(encrypted, execution["id"])
    row = await encrypted.finished(execution["id"])
    assert (row.status, row.outcome) == ("completed", "bought")
    with encrypted.sessions() as session:
        user = session.get(User, "ada")
        assert user is not None and (user.attributes or {})["last_card"] == CARD

    history = await encrypted.raw_history(execution["temporal_workflow_id"])
    raw = history.SerializeToString()
    for secret in (EMAIL, CARD, NOTE):  # input, profile, signal, activity input, result
        assert secret.encode() not in raw, f"{secret} is in the history in plaintext"
    assert started_input(history).metadata["encoding"] == b"binary/encrypted"
    assert key_ids(history) == {b"k1"}


async def test_the_codec_endpoint_decrypts_for_the_role_and_refuses_the_rest(
    encrypted: Encrypted,
) -> None:
    await encrypted.serve(**keys("k1", k1=KEY1), codec_role="operator")
    execution = await start_and_wait(encrypted, encrypted.journey())
    history = await encrypted.raw_history(execution["temporal_workflow_id"])
    body = {"payloads": [json_format.MessageToDict(started_input(history))]}
    namespace = {"X-Namespace": "default"}

    decoded = await encrypted.call(
        "POST", "/api/codec/decode", json=body, headers={**encrypted.headers(), **namespace}
    )
    assert decoded.status_code == 200, decoded.text
    [payload] = decoded.json()["payloads"]
    assert base64.b64decode(payload["metadata"]["encoding"]) == b"json/plain"
    assert NOTE in base64.b64decode(payload["data"]).decode()

    refused = {
        "no token": {},
        "viewer": encrypted.headers(Role.viewer),
        "other namespace": {**encrypted.headers(), "X-Namespace": "elsewhere"},
    }
    statuses = {
        name: (await encrypted.call("POST", "/api/codec/decode", json=body, headers=h)).status_code
        for name, h in refused.items()
    }
    assert statuses == {"no token": 401, "viewer": 403, "other namespace": 400}

    altered = dict(body["payloads"][0])
    data = bytearray(base64.b64decode(altered["data"]))
    data[-1] ^= 0x01
    altered["data"] = base64.b64encode(bytes(data)).decode()
    tampered = await encrypted.call(
        "POST", "/api/codec/decode", json={"payloads": [altered]}, headers=encrypted.headers()
    )
    assert tampered.status_code == 422
    assert tampered.json()["detail"].startswith("/payloads/0: payload failed authentication")

    # /encode then /decode is the identity (the UI encodes what it sends to runs).
    encoded = await encrypted.call(
        "POST", "/api/codec/encode", json=decoded.json(), headers=encrypted.headers()
    )
    [sealed] = encoded.json()["payloads"]
    assert base64.b64decode(sealed["metadata"]["encryption-key-id"]) == b"k1"
    again = await encrypted.call(
        "POST", "/api/codec/decode", json=encoded.json(), headers=encrypted.headers()
    )
    assert again.json() == decoded.json()


async def test_the_temporal_ui_origin_may_call_the_codec_from_a_browser(
    encrypted: Encrypted,
) -> None:
    await encrypted.serve(**keys("k1", k1=KEY1), temporal_ui_url="http://ui.test:8233")
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type,x-namespace",
    }
    ui = await encrypted.call(
        "OPTIONS", "/api/codec/decode", headers={**preflight, "Origin": "http://ui.test:8233"}
    )
    assert ui.status_code == 200
    assert ui.headers["access-control-allow-origin"] == "http://ui.test:8233"
    assert ui.headers["access-control-allow-credentials"] == "true"
    other = await encrypted.call(
        "OPTIONS", "/api/codec/decode", headers={**preflight, "Origin": "http://evil.test"}
    )
    assert "access-control-allow-origin" not in other.headers
    # Only the codec answers CORS: other routes stay same-origin.
    elsewhere = await encrypted.call(
        "OPTIONS", "/api/executions", headers={**preflight, "Origin": "http://ui.test:8233"}
    )
    assert "access-control-allow-origin" not in elsewhere.headers


async def test_the_temporal_cli_shows_the_history_decrypted_through_the_codec(
    encrypted: Encrypted,
) -> None:
    await encrypted.serve(**keys("k1", k1=KEY1))
    execution = await start_and_wait(encrypted, encrypted.journey())
    base = [
        str(temporal_cli_path()),
        "workflow",
        "show",
        "--output",
        "json",
        "--address",
        temporal_target(encrypted.env.temporal_client),
        "--workflow-id",
        execution["temporal_workflow_id"],
    ]
    codec = [
        "--codec-endpoint",
        f"{encrypted.url}/api/codec",
        "--codec-auth",
        encrypted.headers()["Authorization"],
    ]

    async def started_with(*argv: str) -> tuple[bytes, bytes]:
        """The run's input as the CLI shows it: (encoding, data)."""
        process = await asyncio.create_subprocess_exec(
            *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        out, err = await process.communicate()
        assert process.returncode == 0, err.decode()
        started = json.loads(out)["events"][0]["workflowExecutionStartedEventAttributes"]
        payload = started["input"]["payloads"][0]
        return base64.b64decode(payload["metadata"]["encoding"]), base64.b64decode(payload["data"])

    encoding, data = await started_with(*base)
    assert encoding == b"binary/encrypted" and NOTE.encode() not in data
    encoding, data = await started_with(*base, *codec)
    assert encoding == b"json/plain" and NOTE.encode() in data


async def test_rotating_the_key_keeps_running_journeys_readable(encrypted: Encrypted) -> None:
    await encrypted.serve(**keys("k1", k1=KEY1))
    execution = await start_and_wait(encrypted, encrypted.journey())
    await encrypted.stack.aclose()  # the k1-only worker and gateway stop; the run waits

    # Rotated: new payloads under k2, k1 still listed, so the run's k1 history replays.
    await encrypted.serve(**keys("k2", k1=KEY1, k2=KEY2))
    await purchase(encrypted, execution["id"])
    row = await encrypted.finished(execution["id"])
    assert (row.status, row.outcome) == ("completed", "bought")
    history = await encrypted.raw_history(execution["temporal_workflow_id"])
    assert key_ids(history) == {b"k1", b"k2"}
    body = {"payloads": [json_format.MessageToDict(started_input(history))]}
    decoded = await encrypted.call(
        "POST", "/api/codec/decode", json=body, headers=encrypted.headers()
    )
    assert (
        decoded.status_code == 200
        and NOTE in base64.b64decode(decoded.json()["payloads"][0]["data"]).decode()
    )

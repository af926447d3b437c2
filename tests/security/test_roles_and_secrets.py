"""Issue 22, findings 1 and 2: who may run a document, where a secret may go, and that no error
path shows one.

1. An operator ran an inline document through `POST /api/workflows/execute` and so did what
   only editors may (write profiles, send a secret to a host of its choosing). Running a
   document now needs the editor role, every route that stores, runs or starts something is
   pinned to its role here, and a secret goes only to the hosts `JOURNEY_SECRET_HOSTS` binds it
   to, whoever runs the journey.
2. A receiver redirected with the `Authorization` value in `Location`, and the secret showed in
   the step detail (viewers read it) and the worker log. Here a receiver echoes the secrets
   through every error branch, and the API answers, the logs and the Temporal history are
   searched for them.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, quote_plus

import httpx
import pytest
import pytest_asyncio
from pydantic import SecretStr, ValidationError
from sqlmodel import select
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.webhook_secrets import REDACTED, SECRET_HOST_REFUSED
from api.auth import Role, create_token
from api.main import create_app
from journey.contracts.actions import WEBHOOK_REDIRECT, WEBHOOK_REJECTED, WEBHOOK_TRANSIENT
from journey.core.config import Settings
from journey.core.db.engine import create_db_engine, make_session_factory
from journey.core.db.models import Workflow
from journey.core.kafka.clients import ensure_topics
from journey.core.secret_hosts import host_allowed, host_pattern, url_host
from journey.core.telemetry.logs import WIRE_LOGGERS, configure_logging
from journey.simulation.models import SimulatedUser
from journey.simulation.stand_ins import Recorder
from tests.activities.helpers import assert_non_retryable, make_context
from tests.activities.webhook_helpers import (
    CRM_TOKEN,
    SECRETS,
    SIGNING_KEY,
    call,
    request,
    webhook_activities,
    webhook_settings,
)
from tests.api.conftest import ApiClientFactory
from tests.harness.env import JourneyEnv
from tests.harness.http_receiver import HttpReceiver
from tests.workflows.test_webhook_secrets import payload_texts
from worker import journey_worker

JWT_SECRET = SecretStr("security-suite-jwt-secret-0123456789abcdef")


def bearer(settings: Settings, role: Role) -> dict[str, str]:
    token = create_token(settings, subject=f"{role.name}-tester", role=role)
    return {"Authorization": f"Bearer {token}"}


def end_only(name: str = "inline") -> dict[str, Any]:
    return {"name": name, "start": "done", "nodes": [{"id": "done", "type": "end"}]}


# ---- finding 1: the role of every route that stores, runs or starts something ------------------

# The least role of every route that changes something. A route that is not listed fails
# `test_every_changing_route_has_a_stated_role`, so a new one is pinned here on purpose.
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"  # an id nothing has
MINIMUM_ROLE: dict[tuple[str, str], Role] = {
    # Stores or runs a document: what any node can do (profiles, webhooks, events).
    ("POST", "/api/workflows"): Role.editor,
    ("POST", "/api/workflows/execute"): Role.editor,
    ("POST", "/api/workflows/import/bpmn"): Role.editor,
    ("PUT", "/api/workflows/{workflow_id}"): Role.editor,
    ("POST", "/api/workflows/{workflow_id}/status"): Role.editor,  # activating starts triggers
    ("DELETE", "/api/workflows/{workflow_id}"): Role.editor,
    ("POST", "/api/triggers"): Role.editor,
    ("PUT", "/api/triggers/{trigger_id}"): Role.editor,
    ("DELETE", "/api/triggers/{trigger_id}"): Role.editor,
    ("POST", "/api/segments"): Role.editor,
    ("PUT", "/api/segments/{segment_id}"): Role.editor,
    ("DELETE", "/api/segments/{segment_id}"): Role.editor,
    ("PUT", "/api/users/{user_id}"): Role.editor,  # any attribute of any profile
    ("DELETE", "/api/users/{user_id}"): Role.admin,
    # Starts or steers journeys an editor stored: what they do was decided by an editor.
    ("POST", "/api/workflows/{journey_id}/start"): Role.operator,
    ("POST", "/api/workflows/{journey_id}/cancel"): Role.operator,
    ("POST", "/api/executions/{execution_id}/cancel"): Role.operator,
    ("POST", "/api/executions/{execution_id}/events"): Role.operator,
    ("POST", "/api/events"): Role.operator,
    ("POST", "/api/events/batch"): Role.operator,
    ("POST", "/api/metrics/events"): Role.operator,
    ("POST", "/api/users/{user_id}/lifecycle/transition"): Role.operator,
    # Stored journeys on stand-ins that send nothing and resolve no secret (see below).
    ("POST", "/api/workflows/{workflow_id}/simulate"): Role.operator,
    ("POST", "/api/triggers/{trigger_id}/test"): Role.operator,  # evaluates, changes nothing
    ("POST", "/api/codec/decode"): Role.operator,  # JOURNEY_CODEC_ROLE, default operator
    ("POST", "/api/codec/encode"): Role.operator,
    # Judge a definition without storing or running it.
    ("POST", "/api/workflows/validate"): Role.viewer,
    ("POST", "/api/segments/evaluate"): Role.viewer,
}
CHANGING = {"POST", "PUT", "PATCH", "DELETE"}


def changing_routes(settings: Settings) -> set[tuple[str, str]]:
    """Every route that is not a read, from the OpenAPI document (the routes left out of it,
    GET /metrics and a read-only WebSocket, are pinned by tests/api/test_openapi.py)."""
    paths = create_app(settings).openapi()["paths"]
    return {
        (method.upper(), path)
        for path, operations in paths.items()
        for method in operations
        if method.upper() in CHANGING
    }


def test_every_changing_route_has_a_stated_role(journey_env: JourneyEnv) -> None:
    assert changing_routes(journey_env.settings) == set(MINIMUM_ROLE)


async def test_each_route_refuses_the_role_below_its_own(
    journey_env: JourneyEnv, api_client_for: ApiClientFactory
) -> None:
    """One role short is 403 (no token for viewer routes: 401); the role itself gets past the
    check (to a 404 or 422: the ids are unknown and the bodies invalid, so nothing changes)."""
    settings = journey_env.settings.model_copy(
        update={"jwt_secret": JWT_SECRET, "api_rate_limit_per_minute": 0}
    )
    async with api_client_for(settings) as api:
        for (method, template), role in MINIMUM_ROLE.items():
            path = template.format_map({name: UNKNOWN_ID for name in _path_names(template)})
            below = bearer(settings, Role(role - 1)) if role > Role.viewer else {}
            refused = await api.request(method, path, json=[], headers=below)
            assert refused.status_code == (403 if below else 401), (method, path, refused.text)
            allowed = await api.request(method, path, json=[], headers=bearer(settings, role))
            assert allowed.status_code not in (401, 403), (method, path, allowed.text)
            assert allowed.status_code < 500, (method, path, allowed.text)


def _path_names(template: str) -> list[str]:
    return [part[1:-1] for part in template.split("/") if part.startswith("{")]


async def test_an_operator_cannot_run_an_inline_document(
    journey_env: JourneyEnv, api_client_for: ApiClientFactory
) -> None:
    settings = journey_env.settings.model_copy(update={"jwt_secret": JWT_SECRET})
    body = {"user_id": "u1", "document": end_only("operator's own")}
    async with api_client_for(settings) as api:
        for role in (Role.viewer, Role.operator):
            answer = await api.post(
                "/api/workflows/execute", json=body, headers=bearer(settings, role)
            )
            assert answer.status_code == 403, answer.text
            assert "editor" in answer.json()["detail"]
    engine = create_db_engine(settings.resolved_database_url)
    try:
        with make_session_factory(engine)() as session:
            assert session.exec(select(Workflow)).all() == []  # nothing stored, nothing ran
    finally:
        engine.dispose()


async def test_the_simulation_stand_ins_send_nothing_and_resolve_no_secret(
    journey_env: JourneyEnv, http_receiver: HttpReceiver
) -> None:
    """Why `/simulate` may stay operator: its webhook stand-in renders the request with the
    real code but drops the secret names first, so no value is read (these settings' secret
    fails the test when read), and its client sends nothing (the allowlisted receiver the URL
    names gets no request)."""
    settings = webhook_settings(journey_env.settings, secrets={"crm_token": _Unreadable()})
    recorder = Recorder(settings, SimulatedUser(id="u1", email="ada@example.com"))
    req = request(
        http_receiver.url("/crm"),
        secret_headers={"Authorization": "crm_token"},
        signing_secret="crm_token",
    )
    try:
        result = await ActivityEnvironment().run(recorder.call_webhook, req)
    finally:
        await recorder.aclose()
    assert result.status == 200
    assert http_receiver.requests == []
    [effect] = recorder.effects.values()
    assert effect.details["headers"]["Authorization"] == "<secret crm_token>"
    assert effect.details["signed_with"] == "<secret crm_token>"


class _Unreadable(SecretStr):
    def __init__(self) -> None:
        super().__init__("never-read")

    def get_secret_value(self) -> str:
        raise AssertionError("the simulation read a secret's value")


# ---- finding 1: secrets bound to their hosts ----------------------------------------------------


def bound(base: Settings, **hosts: list[str]) -> Settings:
    """Webhook settings whose secrets are bound as given (unbound: no entry)."""
    return webhook_settings(base, secret_hosts=hosts)


@pytest.mark.parametrize(
    ("overrides", "name"),
    [
        ({"secret_headers": {"Authorization": "crm_token"}}, "crm_token"),
        ({"signing_secret": "signing"}, "signing"),
    ],
)
async def test_a_secret_is_refused_for_a_host_it_is_not_bound_to(
    journey_env: JourneyEnv, http_receiver: HttpReceiver, overrides: dict[str, Any], name: str
) -> None:
    settings = bound(journey_env.settings, crm_token=["crm.example.com"], signing=["*.example.com"])
    async with webhook_activities(settings) as hook:
        with pytest.raises(ApplicationError) as info:
            await call(hook, request(http_receiver.url("/crm"), **overrides))
    assert_non_retryable(info, SECRET_HOST_REFUSED)
    message = str(info.value)
    assert repr(name) in message and "'127.0.0.1'" in message
    assert "JOURNEY_SECRET_HOSTS" in message
    assert not any(value in message for value in SECRETS.values())
    assert http_receiver.requests == []  # refused before anything was sent


async def test_an_unbound_secret_is_refused_everywhere(
    journey_env: JourneyEnv, http_receiver: HttpReceiver
) -> None:
    settings = bound(journey_env.settings, signing=["127.0.0.1"])  # crm_token: no entry
    async with webhook_activities(settings) as hook:
        with pytest.raises(ApplicationError) as info:
            req = request(http_receiver.url("/crm"), secret_headers={"X-Key": "crm_token"})
            await call(hook, req)
        assert_non_retryable(info, SECRET_HOST_REFUSED)
        assert "bound to no host" in str(info.value) and "JOURNEY_SECRET_HOSTS" in str(info.value)
        # The other secret, bound to this host, still goes.
        await call(hook, request(http_receiver.url("/crm"), signing_secret="signing"))
    assert len(http_receiver.requests) == 1


async def test_the_binding_applies_to_the_rendered_url(
    journey_env: JourneyEnv, http_receiver: HttpReceiver
) -> None:
    """The host a run's variables choose (an operator starts runs with variables) counts."""
    settings = bound(journey_env.settings, crm_token=["localhost"])
    context = make_context(vars={"host": f"127.0.0.1:{http_receiver.port}"})
    req = request(
        "http://{{ vars.host }}/crm", context=context, secret_headers={"Authorization": "crm_token"}
    )
    async with webhook_activities(settings) as hook:
        with pytest.raises(ApplicationError) as info:
            await call(hook, req)
    assert_non_retryable(info, SECRET_HOST_REFUSED)
    assert "'127.0.0.1'" in str(info.value)
    assert http_receiver.requests == []


@pytest.mark.parametrize(
    ("url", "patterns", "allowed"),
    [
        ("https://crm.example.com/x", ["crm.example.com"], True),
        ("https://CRM.Example.com:8443/x", ["crm.example.com"], True),  # case, port
        ("https://crm.example.com./x", ["crm.example.com"], True),  # the same DNS name
        ("https://eu.crm.example.com/x", ["*.crm.example.com"], True),
        ("https://a.b.crm.example.com/x", ["*.crm.example.com"], True),
        ("https://crm.example.com/x", ["*.crm.example.com"], False),  # not the domain itself
        ("https://evilcrm.example.com/x", ["*.crm.example.com"], False),
        ("https://crm.example.com.evil.net/x", ["crm.example.com"], False),
        ("https://crm.example.com@evil.net/x", ["crm.example.com"], False),  # userinfo
        ("https://evil.net/?crm.example.com", ["crm.example.com"], False),
        ("https://bücher.example/x", ["BÜCHER.example"], True),  # IDNA, both sides
        ("https://xn--bcher-kva.example/x", ["bücher.example"], True),
        ("http://[0:0::1]:8080/x", ["[::1]"], True),
        ("http://127.1/x", ["127.0.0.1"], False),  # another spelling is another host
    ],
)
def test_host_matching(url: str, patterns: list[str], allowed: bool) -> None:
    host = url_host(url)
    assert host is not None
    assert host_allowed(host, [host_pattern(p) for p in patterns]) is allowed


MALFORMED_PATTERNS = [
    *("", "*", "*.com", "*.*.example.com", "*.10.0.0.1", "crm example.com"),
    *("https://crm.example.com", "crm.example.com:443", "crm.example.com/x", "a@crm.example.com"),
]


@pytest.mark.parametrize("pattern", MALFORMED_PATTERNS)
def test_malformed_host_patterns_are_refused(pattern: str) -> None:
    with pytest.raises(ValueError, match=r"host|label"):
        host_pattern(pattern)


def test_settings_bind_only_configured_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOURNEY_SECRETS", json.dumps({"crm_token": CRM_TOKEN}))
    monkeypatch.setenv("JOURNEY_SECRET_HOSTS", '{"crm_token": ["CRM.example.com", "*.crm.io"]}')
    assert Settings().secret_hosts == {"crm_token": ["crm.example.com", "*.crm.io"]}

    monkeypatch.setenv("JOURNEY_SECRET_HOSTS", '{"crm_tokn": ["crm.example.com"]}')
    with pytest.raises(ValidationError, match="crm_tokn") as info:
        Settings()
    assert CRM_TOKEN not in str(info.value)
    monkeypatch.setenv("JOURNEY_SECRET_HOSTS", '{"crm_token": ["crm.example.com:443"]}')
    with pytest.raises(ValidationError, match="not a host name"):
        Settings()


# ---- finding 2: no error path shows a secret ---------------------------------------------------

SIGNING = SECRETS["signing"]


def spellings(value: str) -> set[str]:
    """How a secret could show: as is, percent-encoded, base64, a whsec_ secret's parts."""
    forms = {
        value,
        quote(value, safe=""),
        quote_plus(value),
        base64.b64encode(value.encode()).decode(),
    }
    if value.startswith("whsec_"):
        forms.add(value.removeprefix("whsec_"))
    return forms


SEARCHED = set().union(*(spellings(v) for v in SECRETS.values()), {SIGNING_KEY.decode()})


def leaks(text: str) -> list[str]:
    return sorted(form for form in SEARCHED if form in text)


class EchoingServer:
    """A raw TCP receiver answering every request with `reply` (bytes as given), so a test can
    send what no HTTP server library would: here an illegal header line quoting a secret,
    which httpx reports as a transport error that quotes the line."""

    def __init__(self, reply: bytes) -> None:
        self.reply = reply
        self.received = 0
        self._socket = socket.create_server(("127.0.0.1", 0))
        self.port = self._socket.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self._socket.accept()
            except OSError:
                return
            with connection:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = connection.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                self.received += 1
                connection.sendall(self.reply)

    def close(self) -> None:
        self._socket.close()
        self._thread.join(timeout=5)


@pytest.fixture
def echoing_server() -> Iterator[EchoingServer]:
    reply = f"HTTP/1.1 200 OK\r\nEcho {CRM_TOKEN} {SIGNING}\r\n\r\n".encode()
    server = EchoingServer(reply)
    yield server
    server.close()


def program_echoes(receiver: HttpReceiver) -> None:
    """Every error branch a response can take, each quoting both secrets as receivers do."""
    both = f"token={CRM_TOKEN} key={SIGNING} url={quote(CRM_TOKEN, safe='')}"
    location = f"https://elsewhere.example/?token={quote(CRM_TOKEN)}&raw={CRM_TOKEN}&k={SIGNING}"
    receiver.respond("/redirect", status=302, headers={"Location": location})
    receiver.respond(
        "/redirect-body", status=307, headers={"Location": location}, body=both.encode()
    )
    receiver.respond("/rejected", status=400, body=both.encode())
    receiver.respond("/failing", status=503, body=both.encode())
    receiver.respond("/accepted-odd", status=200, json={"echo": both})


BRANCHES = {  # node id -> receiver path (None: the echoing TCP server) and the error type
    "redirect": ("/redirect", WEBHOOK_REDIRECT),
    "redirect_body": ("/redirect-body", WEBHOOK_REDIRECT),
    "rejected": ("/rejected", WEBHOOK_REJECTED),
    "failing": ("/failing", WEBHOOK_TRANSIENT),
    "transport": (None, WEBHOOK_TRANSIENT),
}


async def test_every_error_branch_of_the_activity_is_redacted(
    journey_env: JourneyEnv, http_receiver: HttpReceiver, echoing_server: EchoingServer
) -> None:
    program_echoes(http_receiver)
    secrets = {"secret_headers": {"Authorization": "crm_token"}, "signing_secret": "signing"}
    async with webhook_activities(webhook_settings(journey_env.settings)) as hook:
        for path, kind in BRANCHES.values():
            url = http_receiver.url(path) if path else echoing_server.url("/transport")
            with pytest.raises(ApplicationError) as info:
                await call(hook, request(url, **secrets))
            assert info.value.type == kind
            assert leaks(str(info.value)) == [], (path, str(info.value))
            assert REDACTED in str(info.value), (path, str(info.value))  # it was there
            assert info.value.__cause__ is None  # a cause's message would travel unredacted
        result = await call(hook, request(http_receiver.url("/accepted-odd"), **secrets))
    assert leaks(result.model_dump_json()) == [] and REDACTED in result.model_dump_json()


@dataclass
class Stack:
    api: httpx.AsyncClient
    settings: Settings
    temporal: Client


@pytest_asyncio.fixture
async def stack(journey_env: JourneyEnv, api_client_for: ApiClientFactory) -> AsyncIterator[Stack]:
    """The gateway and a worker whose secrets are bound to the receivers' host."""
    settings = webhook_settings(journey_env.settings, jwt_secret=JWT_SECRET)
    ensure_topics(settings)
    engine = create_db_engine(settings.resolved_database_url)
    try:
        async with (
            journey_worker(journey_env.temporal_client, settings, make_session_factory(engine)),
            api_client_for(settings) as api,
        ):
            yield Stack(api, settings, journey_env.temporal_client)
    finally:
        engine.dispose()


def leaking_journey(receiver: HttpReceiver, server: EchoingServer) -> dict[str, Any]:
    """A webhook node per error branch, each sending both secrets and going on after it fails;
    the last one is accepted and saves the echo into the run's variables."""
    order = [*BRANCHES, "accepted"]
    urls = {
        node_id: receiver.url(path) if path else server.url("/transport")
        for node_id, (path, _) in BRANCHES.items()
    }
    urls["accepted"] = receiver.url("/accepted-odd")
    after = [*order[1:], "done"]
    nodes: list[dict[str, Any]] = [
        {
            "id": node_id,
            "type": "webhook",
            "url": urls[node_id],
            "headers": {"Authorization": {"secret": "crm_token"}},
            "signing_secret": "signing",
            "retry": {"maximum_attempts": 1},
            "save_as": f"answer_{node_id}",
            "next": following,
            "on_error": following,
        }
        for node_id, following in zip(order, after, strict=True)
    ]
    nodes.append({"id": "done", "type": "end", "outcome": "finished"})
    return {
        "name": "echoing receivers",
        "start": order[0],
        "create_missing_profile": True,
        "nodes": nodes,
    }


@pytest.fixture
def service_logging(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The logging policy of a service process (`configure_logging`), undone afterwards; the
    handlers stay pytest's, so `caplog` sees every record."""
    saved = {name: logging.getLogger(name).level for name in WIRE_LOGGERS}
    monkeypatch.setattr(logging, "basicConfig", lambda **_: None)
    configure_logging("DEBUG")
    yield
    for name, level in saved.items():
        logging.getLogger(name).setLevel(level)


@pytest.mark.usefixtures("service_logging")
def test_services_keep_wire_data_out_of_debug_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    assert logging.getLogger("journey.worker").isEnabledFor(logging.DEBUG)
    assert not logging.getLogger("httpcore.http11").isEnabledFor(logging.DEBUG)


@pytest.mark.usefixtures("service_logging")
async def test_no_secret_reaches_api_answers_logs_or_history(
    stack: Stack,
    http_receiver: HttpReceiver,
    echoing_server: EchoingServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)  # everything but what services never log
    program_echoes(http_receiver)
    editor, viewer = bearer(stack.settings, Role.editor), bearer(stack.settings, Role.viewer)
    body = {"user_id": "u-leak", "document": leaking_journey(http_receiver, echoing_server)}
    started = await stack.api.post("/api/workflows/execute", json=body, headers=editor)
    assert started.status_code == 201, started.text
    execution = started.json()

    detail = await _finished(stack.api, execution["id"], viewer)
    steps = {step["node_id"]: step for step in detail["step_log"]}
    for node_id in BRANCHES:  # each branch failed, with the echo redacted
        assert steps[node_id]["outcome"] != "completed", steps[node_id]
        assert REDACTED in (steps[node_id]["detail"] or ""), steps[node_id]
    assert echoing_server.received == 1
    assert len(http_receiver.requests) == len(BRANCHES)  # every other branch was reached

    answers = [
        detail,
        (await stack.api.get("/api/executions", headers=viewer)).json(),
        (await stack.api.get(f"/api/users/{body['user_id']}/history", headers=viewer)).json(),
    ]
    assert leaks(json.dumps(answers)) == []
    history = await stack.temporal.get_workflow_handle(
        execution["temporal_workflow_id"]
    ).fetch_history()
    text = history.to_json()
    assert leaks("\n".join([text, *payload_texts(json.loads(text))])) == []
    logged = "\n".join([caplog.text, *(r.getMessage() for r in caplog.records)])
    assert "redirect" in logged.lower()  # the failures were logged ...
    assert leaks(logged) == []  # ... without a secret


async def _finished(api: httpx.AsyncClient, execution_id: str, viewer: dict[str, str]) -> Any:
    """The execution detail once the run has ended (the loop is a hang guard only)."""
    for _ in range(300):
        answer = await api.get(f"/api/executions/{execution_id}", headers=viewer)
        assert answer.status_code == 200, answer.text
        if answer.json()["status"] not in ("pending", "running"):
            return answer.json()
        await asyncio.sleep(0.1)
    raise AssertionError(f"execution {execution_id} did not end: {answer.json()}")

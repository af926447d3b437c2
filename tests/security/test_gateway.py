"""Issue 22, findings 3, 8, 10, 12 and the gateway half of 13: attacks on the REST gateway.

3. 700 bad tokens, each with another `X-Forwarded-For`, never met the failed-auth limit:
   uvicorn believed the header from loopback peers. Now only `api_trusted_proxies` are.
8. An `Idempotency-Key` sent again with another body (by another caller) was answered with the
   first request's run. Now that is 422; only the same request gets the earlier run.
10. A JWT valid for 100 years was accepted. Now `exp - iat` is bounded (`jwt_max_ttl_minutes`),
    `iat` is required, and `journey token create` makes no token the gateway would refuse.
12. `NaN` and `(-)Infinity` in JSON bodies (and Kafka events) were accepted. Now they are
    refused: 422 at the gateway, dead-lettered as `not_json` by the consumer.
13. A 64 KiB URL was handled and logged whole (one access-log line long enough to stall the
    dev supervisor). Now the gateway answers 414 / 431 and the access log stays bounded.

The proxy and request-head attacks run against `journey api` itself, a real process: what
they exercise is the server's configuration and its log output, not only the app.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from confluent_kafka import Message
from pydantic import SecretStr, ValidationError
from rich.console import Console

from api.auth import Role, create_token
from api.main import create_app
from journey.core.config import Settings
from journey.core.db.engine import create_db_engine, make_session_factory
from journey.core.db.models import User, Workflow, WorkflowExecution, WorkflowVersion
from journey.dev.run import token_lines
from journey.ingest.envelopes import PoisonMessage, parse_message
from tests.api.conftest import ApiClientFactory
from tests.harness.env import IsolatedSettings, JourneyEnv
from tests.harness.ports import free_port

REPO = Path(__file__).resolve().parents[2]
JWT_SECRET = "gateway-suite-jwt-secret-0123456789abcdef"
READY = "journey-ready: api"
# Hang guards, not timing assertions: `journey api` starts in a few seconds.
START_GUARD_SECONDS = 60
STOP_GUARD_SECONDS = 20
# The longest line `journey api` may write for any request (the access log keeps 2 KiB of
# each field); far below the 64 KiB line that stalled the dev supervisor.
MAX_LOG_LINE_CHARS = 8 * 1024


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# ---- `journey api` as a real process ----------------------------------------------------------


@dataclass
class RunningApi:
    url: str
    port: int
    output: list[Path]  # stdout (the access log) and stderr

    def lines(self) -> list[str]:
        return [line for path in self.output for line in path.read_text().splitlines()]


@asynccontextmanager
async def journey_api(env: JourneyEnv, **settings: str) -> AsyncIterator[RunningApi]:
    """`python -m journey api` on a free port with JOURNEY_<NAME> set from `settings`; its
    output goes to files, so it never blocks on a pipe; stopped (SIGTERM) on exit."""
    port = free_port()
    environ = {k: v for k, v in os.environ.items() if not k.startswith("JOURNEY_")}
    environ.update(
        JOURNEY_DATA_DIR=str(env.data_dir / f"api-{port}"),
        JOURNEY_DATABASE_URL=env.settings.resolved_database_url,
        JOURNEY_KAFKA_BOOTSTRAP=env.kafka_bootstrap,
        JOURNEY_TEMPORAL_ADDRESS=env.settings.resolved_temporal_address,
        JOURNEY_API_PORT=str(port),
        JOURNEY_JWT_SECRET=JWT_SECRET,
        JOURNEY_LOG_LEVEL="INFO",  # the access log is INFO
        **{f"JOURNEY_{name.upper()}": value for name, value in settings.items()},
    )
    stdout, stderr = env.data_dir / f"api-{port}.out", env.data_dir / f"api-{port}.err"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "journey", "api", env=environ, cwd=REPO, stdout=out, stderr=err
        )
    try:
        await asyncio.wait_for(_ready(process, stdout, stderr), START_GUARD_SECONDS)
        yield RunningApi(f"http://127.0.0.1:{port}", port, [stdout, stderr])
    finally:
        if process.returncode is None:
            process.terminate()
        await asyncio.wait_for(process.wait(), STOP_GUARD_SECONDS)


async def _ready(process: asyncio.subprocess.Process, stdout: Path, stderr: Path) -> None:
    while READY not in await asyncio.to_thread(stdout.read_text):
        if process.returncode is not None:
            errors = await asyncio.to_thread(stderr.read_text)
            raise AssertionError(f"journey api exited {process.returncode}: {errors}")
        await asyncio.sleep(0.1)


# ---- finding 3: the failed-auth limit and X-Forwarded-For ------------------------------------

LIMIT = 5


async def _bad_tokens(api: RunningApi, forwarded_for: list[str]) -> list[int]:
    async with httpx.AsyncClient(base_url=api.url) as client:
        statuses = []
        for index, address in enumerate(forwarded_for):
            headers = {**bearer(f"guess-{index}"), "X-Forwarded-For": address}
            statuses.append((await client.get("/api/workflows", headers=headers)).status_code)
        return statuses


async def test_rotating_x_forwarded_for_does_not_escape_the_failed_auth_limit(
    journey_env: JourneyEnv,
) -> None:
    rotating = [f"203.0.113.{i}" for i in range(1, 3 * LIMIT)]
    async with journey_api(journey_env, api_rate_limit_per_minute=str(LIMIT)) as api:
        statuses = await _bad_tokens(api, rotating)
    # One client, however it labels itself: the first LIMIT guesses are 401, the rest 429.
    assert statuses == [401] * LIMIT + [429] * (len(rotating) - LIMIT)


async def test_a_configured_proxy_is_believed(journey_env: JourneyEnv) -> None:
    settings = {"api_rate_limit_per_minute": str(LIMIT), "api_trusted_proxies": '["127.0.0.1"]'}
    async with journey_api(journey_env, **settings) as api:
        # Behind a trusted proxy every forwarded client has its own limit ...
        rotating = [f"203.0.113.{i}" for i in range(1, 3 * LIMIT)]
        assert set(await _bad_tokens(api, rotating)) == {401}
        # ... which still holds for each of them.
        statuses = await _bad_tokens(api, ["198.51.100.7"] * (LIMIT + 1))
    assert statuses == [401] * LIMIT + [429]


def test_trusted_proxies_must_be_addresses() -> None:
    assert IsolatedSettings(api_trusted_proxies=["10.0.0.0/8", "::1"]).api_trusted_proxies
    with pytest.raises(ValidationError, match="not an IP address or CIDR"):
        IsolatedSettings(api_trusted_proxies=["proxy.internal"])


# ---- finding 13: over-long request heads ----------------------------------------------------


async def _raw_request(port: int, head: bytes, *, piece: int | None = None) -> bytes:
    """Send a request head (in one write, or in `piece`-byte writes); -> the whole answer.
    Raw, so no client shortens, splits or refuses it (httpx refuses URLs over 64 KiB)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        step = piece or len(head)
        for start in range(0, len(head), step):
            writer.write(head[start : start + step])
            await writer.drain()
        return await reader.read()  # `Connection: close`: the server ends the answer
    finally:
        writer.close()
        await writer.wait_closed()


def _get(target: str, *headers: str) -> bytes:
    lines = [f"GET {target} HTTP/1.1", "Host: journey", "Connection: close", *headers, "", ""]
    return "\r\n".join(lines).encode()


def _status_and_problem(answer: bytes) -> tuple[int, dict[str, Any]]:
    head, _, body = answer.partition(b"\r\n\r\n")
    assert b"content-type: application/problem+json" in head.lower(), head
    return int(head.split(b" ", 2)[1]), json.loads(body)


async def test_long_urls_and_headers_are_refused_and_never_logged_whole(
    journey_env: JourneyEnv,
) -> None:
    long_url = _get("/api/workflows/" + "a" * (64 * 1024))
    async with journey_api(journey_env) as api:
        status, problem = _status_and_problem(await _raw_request(api.port, long_url))
        assert status == 414 and "limit is 8192" in problem["detail"]
        assert problem["instance"] is None  # the URL is not echoed
        large = _get("/health", "X-Padding: " + "b" * 20_000)
        status, problem = _status_and_problem(await _raw_request(api.port, large))
        assert status == 431 and "limit is 16384" in problem["detail"]
        # However the head arrives (one read, or many the server must buffer), the answer is
        # the stated limit, not a parser error.
        query = _get(f"/health?q={'c' * 12_000}")
        assert (await _raw_request(api.port, query)).startswith(b"HTTP/1.1 414")
        assert (await _raw_request(api.port, query, piece=1024)).startswith(b"HTTP/1.1 414")
        # Within the limits all is as before.
        async with httpx.AsyncClient(base_url=api.url) as client:
            health = await client.get("/health", params={"q": "d" * 4000})
            assert health.status_code in (200, 503)
    lines = api.lines()
    assert any('" 414' in line for line in lines), "the refusal is in the access log"
    longest = max(lines, key=len)
    assert len(longest) <= MAX_LOG_LINE_CHARS, longest[:200]


async def test_a_websocket_with_an_over_long_url_is_refused(journey_env: JourneyEnv) -> None:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    path = "/api/workflows/x/live"
    scope = {
        "type": "websocket",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"e" * 10_000,
        "headers": [],
        "scheme": "ws",
        "subprotocols": [],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
        "asgi": {"version": "3.0"},
    }
    await create_app(journey_env.settings)(scope, receive, send)
    assert [message["type"] for message in sent] == ["websocket.close"]
    assert sent[0]["code"] == 1009 and "limit is 8192" in sent[0]["reason"]


# ---- finding 8: Idempotency-Key reuse ---------------------------------------------------------


def _waiting_journey() -> dict[str, Any]:
    return {
        "name": "wait for a purchase",
        "start": "wait",
        "nodes": [
            {
                "id": "wait",
                "type": "wait_for_event",
                "event_type": "purchase",
                "timeout": "P3D",
                "on_event": "done",
                "on_timeout": "done",
            },
            {"id": "done", "type": "end"},
        ],
    }


def _seed(settings: Settings) -> str:
    """An active journey and users u1 and u2; -> the journey id."""
    engine = create_db_engine(settings.resolved_database_url)
    try:
        with make_session_factory(engine)() as session:
            document = _waiting_journey()
            row = Workflow(name=document["name"], definition=document, version="1", status="active")
            session.add_all([row, User(id="u1"), User(id="u2")])
            session.commit()
            session.add(WorkflowVersion(workflow_id=row.id, version="1", definition=document))
            # A row reserved without a fingerprint, as a trigger's start reserves its own.
            session.add(
                WorkflowExecution(
                    workflow_id=row.id,
                    workflow_version="1",
                    user_id="u2",
                    temporal_workflow_id=f"trigger-run-{uuid.uuid4().hex}",
                    idempotency_key="trigger:abc",
                    status="running",
                )
            )
            session.commit()
            return str(row.id)
    finally:
        engine.dispose()


async def test_an_idempotency_key_answers_only_the_request_it_was_made_for(
    journey_env: JourneyEnv, api_client_for: ApiClientFactory, migrated_database_url: str
) -> None:
    settings = journey_env.settings.model_copy(
        update={"jwt_secret": SecretStr(JWT_SECRET), "database_url": migrated_database_url}
    )
    journey_id = _seed(settings)
    alice = bearer(create_token(settings, subject="alice", role=Role.operator))
    mallory = bearer(create_token(settings, subject="mallory", role=Role.operator))
    start = f"/api/workflows/{journey_id}/start"

    async def post(caller: dict[str, str], body: dict[str, Any], key: str) -> httpx.Response:
        return await api.post(start, json=body, headers={**caller, "Idempotency-Key": key})

    async with api_client_for(settings) as api:
        first = await post(alice, {"user_id": "u1", "variables": {"plan": "pro"}}, "order-7")
        assert first.status_code == 201, first.text
        # The same request again (defaults spelled out): the earlier run.
        again = await post(alice, {"variables": {"plan": "pro"}, "user_id": "u1"}, "order-7")
        assert (again.status_code, again.json()["id"]) == (200, first.json()["id"])
        refused = [
            await post(alice, {"user_id": "u2", "variables": {"plan": "pro"}}, "order-7"),
            await post(alice, {"user_id": "u1", "variables": {"plan": "free"}}, "order-7"),
            await post(mallory, {"user_id": "u2"}, "order-7"),
            # Another caller with the very same body learns nothing of alice's run either.
            await post(mallory, {"user_id": "u1", "variables": {"plan": "pro"}}, "order-7"),
            # Nor does a key a trigger reserved its start under hand out that run.
            await post(alice, {"user_id": "u2"}, "trigger:abc"),
        ]
    for response in refused:
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert "Idempotency-Key was already used for a different request" in response.text
        assert first.json()["id"] not in response.text
        assert first.json()["temporal_workflow_id"] not in response.text


# ---- finding 10: token lifetime -----------------------------------------------------------------


def _token(**claims: Any) -> str:
    body = {"sub": "mallory", "role": "admin", **claims}
    return jwt.encode(body, JWT_SECRET, algorithm="HS256")


async def test_long_lived_and_undated_tokens_are_refused(
    journey_env: JourneyEnv, api_client_for: ApiClientFactory
) -> None:
    settings = journey_env.settings.model_copy(update={"jwt_secret": SecretStr(JWT_SECRET)})
    now = int(datetime.now(UTC).timestamp())
    century = now + 100 * 365 * 86400
    async with api_client_for(settings) as api:

        async def answer(token: str) -> httpx.Response:
            return await api.get("/api/workflows", headers=bearer(token))

        for token in (_token(iat=now, exp=century), _token(iat=now, exp=now + 24 * 3600 + 1)):
            response = await answer(token)
            assert response.status_code == 401, response.text
            assert "lifetime (exp - iat) exceeds the maximum of 1440 minutes" in response.text
        undated = await answer(_token(exp=now + 60))
        assert undated.status_code == 401
        assert "token has no 'iat' claim" in undated.json()["detail"]
        assert (await answer(_token(iat=now, exp=now + 24 * 3600))).status_code == 200
        assert (await answer(create_token(settings, subject="a", role=Role.viewer))).is_success
    shorter = settings.model_copy(update={"jwt_max_ttl_minutes": 5})
    async with api_client_for(shorter) as api:
        response = await api.get("/api/workflows", headers=bearer(_token(iat=now, exp=now + 600)))
        assert response.status_code == 401


def _journey_cli(*args: str, **env: str) -> tuple[int, str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("JOURNEY_")}
    result = subprocess.run(
        [sys.executable, "-m", "journey", *args],
        env={**clean, **env},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return result.returncode, result.stdout, result.stderr


def test_token_create_refuses_a_lifetime_the_gateway_would_refuse() -> None:
    code, out, err = _journey_cli(
        "token",
        "create",
        "--role",
        "admin",
        "--ttl-minutes",
        str(100 * 365 * 24 * 60),
        JOURNEY_JWT_SECRET=JWT_SECRET,
    )
    assert (code, out) == (2, "")
    assert "exceeds the maximum token lifetime of 1440 minutes" in err
    assert "JOURNEY_JWT_MAX_TTL_MINUTES" in err and "Traceback" not in err
    code, out, _ = _journey_cli(
        "token",
        "create",
        "--role",
        "admin",
        "--ttl-minutes",
        "1440",
        JOURNEY_JWT_SECRET=JWT_SECRET,
    )
    claims = jwt.decode(out.strip(), JWT_SECRET, algorithms=["HS256"])
    assert code == 0 and claims["exp"] - claims["iat"] == 1440 * 60


def test_the_dev_banner_token_fits_the_maximum(tmp_path: Path) -> None:
    settings = IsolatedSettings(
        data_dir=tmp_path,
        jwt_secret=SecretStr(JWT_SECRET),
        jwt_ttl_minutes=30,
        jwt_max_ttl_minutes=60,
    )
    console = Console(width=400, record=True)
    for line in token_lines(settings):
        console.print(line, markup=False)
    text = console.export_text()
    token = text.split("Bearer ")[1].split('"')[0]
    claims = jwt.decode(token, JWT_SECRET, algorithms=["HS256"])
    assert claims["exp"] - claims["iat"] == 3600
    assert "valid 1 h" in text


def test_the_default_lifetime_must_fit_the_maximum() -> None:
    with pytest.raises(ValidationError, match="exceeds jwt_max_ttl_minutes"):
        IsolatedSettings(jwt_ttl_minutes=120, jwt_max_ttl_minutes=60)


# ---- finding 12: non-standard JSON ------------------------------------------------------------

NON_STANDARD = {"NaN": "NaN", "Infinity": "Infinity", "-Infinity": "-Infinity"}


@pytest.mark.parametrize("constant", list(NON_STANDARD), ids=list(NON_STANDARD))
async def test_nan_and_infinity_are_refused_in_every_json_body(
    journey_env: JourneyEnv, api_client_for: ApiClientFactory, constant: str
) -> None:
    settings = journey_env.settings.model_copy(update={"jwt_secret": SecretStr(JWT_SECRET)})
    admin = {
        **bearer(create_token(settings, subject="admin", role=Role.admin)),
        "Content-Type": "application/json",
    }
    bodies = {
        "/api/workflows/validate": '{"definition": {"name": "x", "limit": %s}}',
        f"/api/workflows/{uuid.uuid4()}/start": '{"user_id": "u1", "variables": {"x": %s}}',
        "/api/events": '{"type": "signup", "user_id": "u1", "properties": {"score": %s}}',
        "/api/events/batch": '{"events": [{"type": "a", "user_id": "u", "properties": [1, %s]}]}',
    }
    async with api_client_for(settings) as api:
        for path, body in bodies.items():
            response = await api.post(path, content=body % constant, headers=admin)
            assert response.status_code == 422, (path, response.text)
            assert response.headers["content-type"] == "application/problem+json"
            detail = response.json()["detail"]
            assert detail.startswith("the request body is not standard JSON"), detail
            assert constant.lstrip("-") in detail
        # The same words inside strings are ordinary JSON.
        quoted = '{"definition": {"name": "NaN and Infinity", "start": "Infinity"}}'
        response = await api.post("/api/workflows/validate", content=quoted, headers=admin)
        assert response.status_code == 200, response.text


def _kafka_message(value: bytes) -> Message:
    return Message(value=value, topic="journey.events", partition=0, offset=7)


@pytest.mark.parametrize("constant", list(NON_STANDARD), ids=list(NON_STANDARD))
def test_the_consumer_dead_letters_nan_and_infinity(constant: str) -> None:
    value = b'{"type": "signup", "user_id": "u1", "properties": {"score": %s}}' % constant.encode()
    with pytest.raises(PoisonMessage) as poison:
        parse_message(_kafka_message(value), max_bytes=8192)
    assert poison.value.kind == "not_json"
    assert constant.lstrip("-") in poison.value.detail
    quoted = b'{"type": "signup", "user_id": "u1", "properties": {"score": "NaN"}}'
    assert parse_message(_kafka_message(quoted), max_bytes=8192).properties == {"score": "NaN"}

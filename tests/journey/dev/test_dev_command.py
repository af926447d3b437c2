"""`journey dev` as users run it: a real process, real servers, real signals.

Every test moves the whole stack to free ports and a temporary data dir, so it never collides
with a stack a developer has running.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt
import pytest
from google.protobuf import json_format
from pydantic import SecretStr

from journey.core.config import Settings
from journey.core.temporal.client import connect_client
from tests.harness.ports import free_port

REPO = Path(__file__).resolve().parents[3]
JOURNEY = [sys.executable, "-m", "journey"]
# A guard against hangs, not a timing assertion: the stack normally needs a fraction of this.
HANG_GUARD_SECONDS = 150


@pytest.fixture
def stack_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOURNEY_")}
    env.update(
        JOURNEY_DATA_DIR=str(tmp_path / "data"),
        JOURNEY_API_PORT=str(free_port()),
        JOURNEY_TEMPORAL_PORT=str(free_port()),
        JOURNEY_TEMPORAL_UI_PORT=str(free_port()),
        JOURNEY_KAFKA_PORT=str(free_port()),
        JOURNEY_SMTP_PORT=str(free_port()),
        JOURNEY_EXAMPLES_DIR=str(REPO / "examples"),
    )
    return env


def run_journey(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*JOURNEY, *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=HANG_GUARD_SECONDS,
    )


@pytest.fixture
def occupied_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_smoke_passes_on_a_fresh_data_dir(stack_env: dict[str, str]) -> None:
    result = run_journey(["dev", "--smoke"], stack_env)
    assert result.returncode == 0, result.stdout + result.stderr
    checks = (
        "api /health",
        "temporal ui",
        "smtp",
        "workflow",
        "kafka -> ingest",
        "example journey",
    )
    for check in checks:
        assert f"PASS {check}" in result.stdout
    assert "smoke passed" in result.stdout
    mail = list((Path(stack_env["JOURNEY_DATA_DIR"]) / "mail" / "new").iterdir())
    assert len(mail) == 2  # the catcher check, and the example journey's email


def test_a_taken_port_is_one_line_naming_the_component(
    stack_env: dict[str, str], occupied_port: int
) -> None:
    stack_env["JOURNEY_API_PORT"] = str(occupied_port)
    result = run_journey(["dev", "--smoke"], stack_env)
    assert result.returncode != 0
    errors = [line for line in result.stdout.splitlines() if line.startswith("journey dev:")]
    assert errors == [
        f"journey dev: api: port {occupied_port} on 127.0.0.1 is already in use — stop what is "
        "using it (is another `journey dev` running?) or set JOURNEY_API_PORT"
    ]
    assert "Traceback" not in result.stdout + result.stderr


def test_a_missing_binary_is_one_line(stack_env: dict[str, str], tmp_path: Path) -> None:
    stack_env["JOURNEY_TEMPORAL_BIN"] = str(tmp_path / "no-such-temporal")
    result = run_journey(["dev", "--smoke"], stack_env)
    assert result.returncode != 0
    assert "journey dev: binaries:" in result.stdout
    assert "no-such-temporal" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_an_unreachable_external_server_is_named(stack_env: dict[str, str]) -> None:
    closed = free_port()
    stack_env["JOURNEY_TEMPORAL_ADDRESS"] = f"127.0.0.1:{closed}"
    stack_env["JOURNEY_EXTERNAL_WAIT_SECONDS"] = "2"
    result = run_journey(["dev", "--smoke"], stack_env)
    assert result.returncode != 0
    assert "journey dev: temporal: not reachable" in result.stdout
    assert "JOURNEY_TEMPORAL_ADDRESS" in result.stdout


async def _wait_for_banner(process: asyncio.subprocess.Process) -> str:
    assert process.stdout is not None
    seen = []
    async for raw in process.stdout:
        line = raw.decode()
        seen.append(line)
        if "Ctrl-C stops everything" in line:
            return "".join(seen)
    raise AssertionError("journey dev ended before its banner:\n" + "".join(seen))


async def _start_dev(env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *JOURNEY,
        "dev",
        env=env,
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )


async def test_sigint_stops_everything_and_a_restart_keeps_the_data(
    stack_env: dict[str, str],
) -> None:
    settings = Settings(
        _env_file=None,
        temporal_port=int(stack_env["JOURNEY_TEMPORAL_PORT"]),
        api_port=int(stack_env["JOURNEY_API_PORT"]),
    )
    first = await _start_dev(stack_env)
    banner = await asyncio.wait_for(_wait_for_banner(first), HANG_GUARD_SECONDS)
    assert "5 journeys (5 new) and 5 triggers (5 new) in the database" in banner
    # The banner's curl carries an admin token signed with the secret kept in the data dir.
    token = banner.split("Authorization: Bearer ")[1].split('"')[0]
    secret = (Path(stack_env["JOURNEY_DATA_DIR"]) / "jwt-secret").read_text().strip()
    assert jwt.decode(token, secret, algorithms=["HS256"])["role"] == "admin"
    for component in ("temporal", "kafka", "database", "smtp", "worker", "ingest", "api"):
        assert f"✓ {component}" in banner
    client = await connect_client(settings)
    handle = await client.start_workflow(
        "journey.StackCheck",
        {"check_id": "restart-proof"},
        id="restart-proof",
        task_queue=settings.temporal_task_queue,
    )
    await handle.result()

    first.send_signal(signal.SIGINT)
    assert await asyncio.wait_for(first.wait(), HANG_GUARD_SECONDS) == 0
    # Every child is gone: the ports are free again.
    for port in ("JOURNEY_API_PORT", "JOURNEY_TEMPORAL_PORT", "JOURNEY_KAFKA_PORT"):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", int(stack_env[port])))

    second = await _start_dev(stack_env)
    try:
        banner = await asyncio.wait_for(_wait_for_banner(second), HANG_GUARD_SECONDS)
        assert "5 journeys (0 new) and 5 triggers (0 new) in the database" in banner
        client = await connect_client(settings)
        description = await client.get_workflow_handle("restart-proof").describe()
        assert description.status is not None and description.status.name == "COMPLETED"
        async with httpx.AsyncClient() as http:
            health = await http.get(f"{settings.api_url}/health")
        assert health.status_code == 200
    finally:
        second.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(second.wait(), HANG_GUARD_SECONDS) == 0


def test_an_invalid_example_stops_the_stack_with_its_problems(
    stack_env: dict[str, str], tmp_path: Path
) -> None:
    examples = tmp_path / "examples"
    examples.mkdir()
    (examples / "broken.json").write_text(
        '{"name": "Broken", "start": "a", "nodes": [{"id": "a", "type": "delay", '
        '"duration": "PT1H", "next": "nowhere"}]}'
    )
    stack_env["JOURNEY_EXAMPLES_DIR"] = str(examples)
    result = run_journey(["dev", "--smoke"], stack_env)
    assert result.returncode == 1
    errors = [line for line in result.stdout.splitlines() if line.startswith("journey dev:")]
    assert len(errors) == 1
    assert "journey dev: examples:" in errors[0]
    assert "/nodes/0/next dangling_transition" in errors[0]
    assert "Traceback" not in result.stdout + result.stderr


async def test_with_payload_keys_the_dev_ui_decrypts_through_the_gateway(
    stack_env: dict[str, str],
) -> None:
    key = base64.b64encode(os.urandom(32)).decode()
    stack_env["JOURNEY_PAYLOAD_KEYS"] = json.dumps({"dev": key})
    stack_env["JOURNEY_PAYLOAD_KEY_ID"] = "dev"
    settings = Settings(
        _env_file=None,
        temporal_port=int(stack_env["JOURNEY_TEMPORAL_PORT"]),
        temporal_ui_port=int(stack_env["JOURNEY_TEMPORAL_UI_PORT"]),
        api_port=int(stack_env["JOURNEY_API_PORT"]),
        payload_keys={"dev": SecretStr(key)},
        payload_key_id="dev",
    )
    process = await _start_dev(stack_env)
    try:
        await asyncio.wait_for(_wait_for_banner(process), HANG_GUARD_SECONDS)
        client = await connect_client(settings)  # encrypting, like the stack's own processes
        handle = await client.start_workflow(
            "journey.StackCheck",
            {"check_id": "secret-check-id"},
            id="encrypted-check",
            task_queue=settings.temporal_task_queue,
        )
        await handle.result()
        started = (await handle.fetch_history()).events[0]
        [payload] = started.workflow_execution_started_event_attributes.input.payloads
        assert payload.metadata["encoding"] == b"binary/encrypted"
        ui = settings.resolved_temporal_ui_url
        async with httpx.AsyncClient(timeout=30) as http:
            codec = (await http.get(f"{ui}/api/v1/settings")).json()["Codec"]
            assert codec["Endpoint"] == f"{settings.api_url}/api/codec"
            # What the UI's page sends from the browser: no token (the dev UI has no login).
            decoded = await http.post(
                f"{settings.api_url}/api/codec/decode",
                json={"payloads": [json_format.MessageToDict(payload)]},
                headers={"Origin": ui, "X-Namespace": "default"},
            )
        assert decoded.status_code == 200, decoded.text
        assert decoded.headers["access-control-allow-origin"] == ui
        data = base64.b64decode(decoded.json()["payloads"][0]["data"])
        assert b"secret-check-id" in data
    finally:
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), HANG_GUARD_SECONDS) == 0

"""A worker process SIGKILLed mid-journey: a fresh worker finishes the run, each step once.

The promise of running journeys on Temporal is that a crash loses nothing and repeats nothing
the history already records: the new worker rebuilds the run by replaying its history (no
sticky cache survives a kill), retries only the activity that was in flight, and the step log
it rebuilds lists every node once. The worker runs as the real `journey worker` process, so
this also covers its start-up from `JOURNEY_*` variables.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, SecretStr
from temporalio.client import WorkflowHandle

from journey.config import Settings
from journey.db.engine import create_db_engine, make_session_factory
from journey.db.models import User
from journey.runtime import READY_PREFIX
from tests.harness.env import JourneyEnv
from tests.workflows.conftest import snapshot
from tests.workflows.histories import wait_until_waiting
from workflows.models import JourneyInput, JourneyResult
from workflows.search_attributes import start_attributes

REPO = Path(__file__).resolve().parents[2]
NODE_IDS = ["welcome", "crm", "wait", "mark", "done"]
# Hang guards only: the test asserts what happened, never how fast.
READY_TIMEOUT = 60.0
RUN_TIMEOUT = 90.0


def crash_journey(crm_url: str) -> dict[str, Any]:
    """email → webhook → wait_for_event → update_attributes → end.

    The webhook's `timeout` (activity start-to-close) is short so the attempt lost with the
    killed worker is retried within seconds instead of after the default minute.
    """
    return {
        "name": "Survives a worker crash",
        "start": "welcome",
        "nodes": [
            {"id": "welcome", "type": "email", "to": "{{ user.email }}", "subject": "Welcome",
             "text": "Hello", "next": "crm"},
            {"id": "crm", "type": "webhook", "url": crm_url, "body": {"user": "{{ user.id }}"},
             "timeout": "PT3S", "retry": {"initial_interval": "PT1S"}, "next": "wait"},
            {"id": "wait", "type": "wait_for_event", "event_type": "activated", "timeout": "P1D",
             "on_event": "mark", "on_timeout": "gave_up"},
            {"id": "mark", "type": "update_attributes",
             "operations": [{"op": "set", "path": "survived", "value": True}], "next": "done"},
            {"id": "done", "type": "end", "outcome": "finished"},
            {"id": "gave_up", "type": "end", "outcome": "gave_up"},
        ],
    }  # fmt: skip


def _env_value(value: Any) -> Any:
    """A setting as pydantic-settings reads it back: scalars as text, the rest as JSON."""
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, BaseModel):
        return _env_value(value.model_dump())
    if isinstance(value, dict):
        return {str(k): _env_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_env_value(v) for v in value]
    return str(value) if isinstance(value, Path) else value


def worker_environment(settings: Settings) -> dict[str, str]:
    """The process environment minus any inherited JOURNEY_*, plus every setting the harness
    chose (servers, data dir, webhook allowlist...), so the subprocess sees what tests see."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOURNEY_")}
    for name in sorted(settings.model_fields_set):
        value = _env_value(getattr(settings, name))
        if value is not None:
            text = value if isinstance(value, str) else json.dumps(value)
            env[f"JOURNEY_{name.upper()}"] = text
    env.update(
        JOURNEY_TEMPORAL_ADDRESS=settings.resolved_temporal_address,
        JOURNEY_DATABASE_URL=settings.resolved_database_url,
        JOURNEY_LOG_LEVEL="INFO",
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    )
    return env


class WorkerProcesses:
    """Starts `journey worker` processes and guarantees none outlives the test."""

    def __init__(self, settings: Settings, log_dir: Path) -> None:
        self._settings = settings
        self._log_dir = log_dir
        self._started: list[tuple[subprocess.Popen[bytes], Path]] = []

    def _spawn(self, out: Path, err: Path) -> subprocess.Popen[bytes]:
        with out.open("wb") as stdout, err.open("wb") as stderr:
            # cwd outside the repository: a developer's .env must not configure this worker.
            process = subprocess.Popen(
                [sys.executable, "-m", "journey", "worker"],
                cwd=self._log_dir, env=worker_environment(self._settings),
                stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr,
            )  # fmt: skip
        self._started.append((process, err))
        return process

    async def start(self) -> subprocess.Popen[bytes]:
        """A new worker process, once it announces that it polls the task queue."""
        n = len(self._started) + 1
        out, err = self._log_dir / f"worker-{n}.out", self._log_dir / f"worker-{n}.err"
        process = self._spawn(out, err)
        deadline = time.monotonic() + READY_TIMEOUT
        while READY_PREFIX not in out.read_text(errors="replace"):
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"worker {n} not ready:\n{self._tail(err)}")
            await asyncio.sleep(0.05)
        return process

    def logs(self) -> str:
        return "\n".join(f"--- {err.name}\n{self._tail(err)}" for _, err in self._started)

    @staticmethod
    def _tail(path: Path, lines: int = 30) -> str:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def kill_all(self) -> None:
        for process, _ in self._started:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=10)


@pytest.fixture
def worker_processes(journey_env: JourneyEnv, tmp_path: Path) -> Iterator[WorkerProcesses]:
    processes = WorkerProcesses(journey_env.settings, tmp_path)
    try:
        yield processes
    finally:
        processes.kill_all()


def seed_user(settings: Settings, user_id: str) -> None:
    engine = create_db_engine(settings.resolved_database_url)
    try:
        with make_session_factory(engine)() as session:
            session.add(User(id=user_id, email=f"{user_id}@example.com"))
            session.commit()
    finally:
        engine.dispose()


def user_attributes(settings: Settings, user_id: str) -> dict[str, Any]:
    engine = create_db_engine(settings.resolved_database_url)
    try:
        with make_session_factory(engine)() as session:
            user = session.get(User, user_id)
            assert user is not None
            return dict(user.attributes or {})
    finally:
        engine.dispose()


async def start_run(env: JourneyEnv, document: dict[str, Any]) -> WorkflowHandle[Any, Any]:
    journey = snapshot(document)
    return await env.temporal_client.start_workflow(
        "journey.Journey",
        JourneyInput(journey=journey, user_id="u1"),
        id=f"journey-crash-{uuid.uuid4().hex[:12]}",
        task_queue=env.settings.temporal_task_queue,
        search_attributes=start_attributes(journey.journey_id, journey.version, "u1"),
        result_type=JourneyResult,
    )


async def test_a_killed_worker_is_replaced_and_each_step_runs_once(
    journey_env: JourneyEnv, worker_processes: WorkerProcesses
) -> None:
    settings, receiver = journey_env.settings, journey_env.http_receiver
    seed_user(settings, "u1")
    # The first call is held far longer than the node's 3 s timeout: the kill lands mid-call.
    receiver.respond("/crm", json={"ok": True}, delay=30, times=1)
    first = await worker_processes.start()
    handle = await start_run(journey_env, crash_journey(receiver.url("/crm")))
    try:
        await receiver.wait_for(1, timeout=RUN_TIMEOUT)  # the webhook activity is in flight
        first.send_signal(signal.SIGKILL)
        assert await asyncio.to_thread(first.wait, 10) == -signal.SIGKILL

        await worker_processes.start()
        await wait_until_waiting(handle, "wait", timeout=RUN_TIMEOUT)
        await handle.signal("event", {"id": "e-1", "type": "activated", "user_id": "u1"})
        result: JourneyResult = await asyncio.wait_for(handle.result(), timeout=RUN_TIMEOUT)
    except (AssertionError, TimeoutError) as err:
        raise AssertionError(f"{err}\n{worker_processes.logs()}") from err

    assert result.outcome == "finished"
    assert [step.node_id for step in result.step_log] == NODE_IDS
    assert all(step.outcome == "ok" for step in result.step_log), result.step_log
    assert len(journey_env.smtp_server.messages) == 1  # completed before the kill: not resent
    calls = receiver.requests
    assert len(calls) == 2  # the lost attempt and its retry, both the same effect
    assert calls[0].headers["webhook-id"] == calls[1].headers["webhook-id"]
    assert user_attributes(settings, "u1") == {"survived": True}

"""`journey worker` processes for tests that kill workers, and the small database helpers
those tests need (they run outside the in-process JourneyRunner)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr
from temporalio.client import WorkflowHandle

from dsl.validation import validate_journey
from journey.contracts.runs import JourneyInput, JourneyResult, JourneySnapshot
from journey.contracts.search_attributes import start_attributes
from journey.core.config import Settings
from journey.core.db.engine import create_db_engine, make_session_factory
from journey.core.db.models import User
from journey.core.runtime import READY_PREFIX
from tests.harness.env import JourneyEnv

REPO = Path(__file__).resolve().parents[2]
# A hang guard only: tests assert what happened, never how fast.
READY_TIMEOUT = 60.0


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
    """Starts `journey worker` (or another `journey` service, e.g. `ingest`) processes and
    guarantees none outlives the test."""

    def __init__(self, settings: Settings, log_dir: Path, command: str = "worker") -> None:
        self._settings = settings
        self._log_dir = log_dir
        self._command = command
        self._started: list[tuple[subprocess.Popen[bytes], Path]] = []

    def _spawn(self, out: Path, err: Path) -> subprocess.Popen[bytes]:
        with out.open("wb") as stdout, err.open("wb") as stderr:
            # cwd outside the repository: a developer's .env must not configure this worker.
            process = subprocess.Popen(
                [sys.executable, "-m", "journey", self._command],
                cwd=self._log_dir,
                env=worker_environment(self._settings),
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
            )
        self._started.append((process, err))
        return process

    async def start(self) -> subprocess.Popen[bytes]:
        """A new worker process, once it announces that it polls the task queue."""
        n, name = len(self._started) + 1, self._command
        out, err = self._log_dir / f"{name}-{n}.out", self._log_dir / f"{name}-{n}.err"
        process = self._spawn(out, err)
        deadline = time.monotonic() + READY_TIMEOUT
        while READY_PREFIX not in out.read_text(errors="replace"):
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"{name} {n} not ready:\n{self._tail(err)}")
            await asyncio.sleep(0.05)
        return process

    def stderr_of(self, process: subprocess.Popen[bytes]) -> str:
        return next(err.read_text(errors="replace") for p, err in self._started if p is process)

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
    validated = validate_journey(document)
    assert validated.document is not None, validated.problems
    journey = JourneySnapshot(journey_id="j-test", version="1.0.0", document=validated.document)
    return await env.temporal_client.start_workflow(
        "journey.Journey",
        JourneyInput(journey=journey, user_id="u1"),
        id=f"journey-crash-{uuid.uuid4().hex[:12]}",
        task_queue=env.settings.temporal_task_queue,
        search_attributes=start_attributes(journey.journey_id, journey.version, "u1"),
        result_type=JourneyResult,
    )

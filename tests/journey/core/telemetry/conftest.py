"""Operating Journey against real servers: the consumer, a worker, the gateway, one process.

Services install the span exporter their settings name when they start (`journey api` etc. call
`configure_tracing`). Here every component runs in the test process, so the session installs an
in-memory exporter once (OpenTelemetry allows one global provider per process) and each test
reads, then clears, what it recorded. `tracing_exporter="console"` in a test's settings only
switches the components' instrumentation on: the console exporter is never installed here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pydantic import SecretStr
from temporalio.client import Client
from temporalio.runtime import Runtime

from api.auth import Role, create_token
from journey.core.telemetry.tracing import configure_tracing
from journey.core.temporal.client import connect_client
from tests.api.conftest import ApiClientFactory
from tests.api.conftest import api_client_for as api_client_for  # the gateway fixture
from tests.harness.env import IsolatedSettings, JourneyEnv
from tests.journey.ingest.conftest import IngestStack, ingest_stack
from worker import journey_worker

JWT_SECRET = SecretStr("telemetry-tests-secret-0123456789abcdef")


@pytest.fixture(scope="session")
def _span_exporter() -> InMemorySpanExporter:
    exporter = InMemorySpanExporter()
    configure_tracing(
        IsolatedSettings(_env_file=None), "journey-tests", exporter=exporter, batch=False
    )
    return exporter


@pytest.fixture
def spans(_span_exporter: InMemorySpanExporter) -> Iterator[InMemorySpanExporter]:
    """The session's in-memory exporter, empty at the start of the test."""
    _span_exporter.clear()
    yield _span_exporter
    _span_exporter.clear()


@dataclass
class Stack:
    """An IngestStack whose worker and consumer share `client`, plus the gateway as `api`."""

    ingest: IngestStack
    client: Client
    api: httpx.AsyncClient


@asynccontextmanager
async def observed_stack(
    env: JourneyEnv,
    api_client_for: ApiClientFactory,
    *,
    runtime: Runtime | None = None,
    **overrides: Any,
) -> AsyncIterator[Stack]:
    """Fresh topics and group, a worker, and the gateway, all on settings with `overrides`;
    the Temporal client comes from the product's factory, so it carries what the settings
    ask for (the tracing interceptor), on `runtime` (the worker's metrics) if given."""
    overrides.setdefault("jwt_secret", JWT_SECRET)
    async with ingest_stack(env, worker=False, **overrides) as stack:
        client = await connect_client(stack.settings, runtime=runtime)
        token = create_token(stack.settings, subject="tester", role=Role.admin)
        async with (
            journey_worker(client, stack.settings, stack.sessions),
            api_client_for(stack.settings) as api,
        ):
            api.headers["Authorization"] = f"Bearer {token}"
            yield Stack(stack, client, api)


def webhook_then_email(hook_url: str) -> dict[str, Any]:
    return {
        "name": "welcome",
        "start": "hook",
        "nodes": [
            {
                "id": "hook",
                "type": "webhook",
                "url": hook_url,
                "body": {"user": "{{ user.id }}"},
                "next": "mail",
            },
            {
                "id": "mail",
                "type": "email",
                "to": "{{ user.email }}",
                "subject": "Hi",
                "text": "Welcome",
                "next": "done",
            },
            {"id": "done", "type": "end"},
        ],
    }


def by_name(spans: list[ReadableSpan], name: str) -> ReadableSpan:
    found = [span for span in spans if span.name == name]
    assert len(found) == 1, f"{len(found)} spans named {name!r} in {sorted(s.name for s in spans)}"
    return found[0]


def parent_of(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


def span_id(span: ReadableSpan) -> int:
    assert span.context is not None
    return span.context.span_id


def trace_of(span: ReadableSpan) -> int:
    assert span.context is not None
    return span.context.trace_id

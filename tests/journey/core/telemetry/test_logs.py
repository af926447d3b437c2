"""JSON log lines carry the trace, the run and the event they belong to.

The handler is the one `journey api|worker|ingest` install with JOURNEY_LOG_FORMAT=json
(`log_handler`), attached to the root logger for the test; the lines come from the product's
own log calls inside a running activity and in the consumer.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from dsl.events import EventEnvelope
from journey.core.telemetry.logs import log_handler
from journey.core.temporal.client import connect_client
from tests.api.conftest import ApiClientFactory
from tests.harness.env import JourneyEnv
from tests.harness.ports import free_port
from tests.journey.core.telemetry.conftest import by_name, observed_stack, span_id, trace_of
from tests.journey.ingest.conftest import ingest_stack


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """What the root logger writes as JSON (INFO and up) while the test runs."""
    stream = io.StringIO()
    handler = log_handler("json", stream)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def records(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


async def test_an_activity_logs_its_run_and_trace(
    journey_env: JourneyEnv,
    api_client_for: ApiClientFactory,
    spans: InMemorySpanExporter,
    json_lines: io.StringIO,
) -> None:
    mail = {
        "id": "mail",
        "type": "email",
        "to": "{{ user.email }}",
        "subject": "Hi",
        "text": "Hello",
        "next": "done",
    }
    document = {
        "name": "opted out",
        "start": "mail",
        "nodes": [mail, {"id": "done", "type": "end"}],
    }
    async with observed_stack(journey_env, api_client_for, tracing_exporter="console") as stack:
        journey = stack.ingest.journey(document)
        stack.ingest.user("ada", email="ada@example.com", attributes={"email_opt_out": True})
        started = await stack.api.post(f"/api/workflows/{journey}/start", json={"user_id": "ada"})
        assert started.status_code == 201, started.text
        execution = started.json()
        await stack.client.get_workflow_handle(execution["temporal_workflow_id"]).result()

    [line] = [r for r in records(json_lines) if r["message"].startswith("email suppressed")]
    assert line["level"] == "INFO" and line["logger"] == "temporalio.activity"
    assert line["workflow_id"] == execution["temporal_workflow_id"]
    assert line["run_id"] == execution["temporal_run_id"]
    activity = by_name(list(spans.get_finished_spans()), "RunActivity:journey.send_email")
    assert line["trace_id"] == f"{trace_of(activity):032x}"
    assert line["span_id"] == f"{span_id(activity):016x}"
    assert "event_id" not in line
    assert datetime.fromisoformat(line["time"]).utcoffset() == timedelta(0)


async def test_the_consumer_logs_which_event_it_is_waiting_on(
    journey_env: JourneyEnv, json_lines: io.StringIO
) -> None:
    async with ingest_stack(journey_env, worker=False) as stack:
        stack.trigger(stack.journey(), event_type="signup", create_profile=True)
        # Temporal unreachable: the consumer waits on this event and says so.
        nowhere = stack.settings.model_copy(update={"temporal_address": f"127.0.0.1:{free_port()}"})
        client = await connect_client(nowhere, lazy=True)
        event = EventEnvelope(type="signup", user_id="ada")
        async with stack.consumer(client=client) as consumer:
            stack.produce([event])
            await stack.wait_for(lambda: consumer.outages > 0, "the consumer to wait")

    waits = [r for r in records(json_lines) if r["message"].startswith("waiting")]
    assert waits and {r["event_id"] for r in waits} == {event.id}
    assert {r["logger"] for r in waits} == {"journey.ingest.consumer"}
    assert all(r["level"] == "WARNING" for r in waits)
    # Outside an event's handling, lines carry no event id.
    assigned = [r for r in records(json_lines) if r["message"].startswith("assigned")]
    assert assigned and all("event_id" not in r for r in assigned)

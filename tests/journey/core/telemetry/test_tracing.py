"""One trace from the request or the Kafka message to the webhook and the mail it caused.

Every hop is real: the gateway (FastAPI instrumentation), the tansu broker (`traceparent` in
the message headers), the consumer, the Temporal dev server (the SDK's tracing interceptor),
the worker's httpx client and the SMTP server. Parent links are asserted span by span.
"""

from __future__ import annotations

import secrets
import uuid

import pytest
from confluent_kafka import Producer
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace.export import ConsoleSpanExporter
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from dsl.events import EventEnvelope
from journey.core.db.models import WorkflowExecution
from journey.core.telemetry.tracing import configure_tracing, span_exporter
from tests.api.conftest import ApiClientFactory
from tests.harness.env import IsolatedSettings, JourneyEnv
from tests.journey.core.telemetry.conftest import (
    by_name,
    observed_stack,
    parent_of,
    span_id,
    trace_of,
    webhook_then_email,
)

TRACING = {"tracing_exporter": "console"}  # instrumentation on; spans go to the test exporter


def caller_context() -> tuple[int, int, str]:
    """A trace id and span id as an upstream caller would send them, and the header."""
    trace_id, parent_id = secrets.randbits(128), secrets.randbits(64)
    return trace_id, parent_id, f"00-{trace_id:032x}-{parent_id:016x}-01"


def assert_run_chain(spans: list, start_parent: int) -> None:
    """StartWorkflow (child of `start_parent`) -> the workflow and its activities -> the
    webhook's HTTP request and the SMTP handover."""
    start = by_name(spans, "StartWorkflow:journey.Journey")
    assert start.kind == SpanKind.CLIENT and parent_of(start) == start_parent
    run = by_name(spans, "RunWorkflow:journey.Journey")
    assert parent_of(run) == span_id(start)
    for activity in ("journey.call_webhook", "journey.send_email"):
        scheduled = by_name(spans, f"StartActivity:{activity}")
        # The interceptor schedules activities in the context the run was started with.
        assert parent_of(scheduled) == span_id(start), activity
        ran = by_name(spans, f"RunActivity:{activity}")
        assert parent_of(ran) == span_id(scheduled), activity
    [post] = [s for s in spans if s.kind == SpanKind.CLIENT and s.name == "POST"]
    assert parent_of(post) == span_id(by_name(spans, "RunActivity:journey.call_webhook"))
    smtp = by_name(spans, "smtp send")
    assert smtp.kind == SpanKind.CLIENT
    assert parent_of(smtp) == span_id(by_name(spans, "RunActivity:journey.send_email"))


async def test_an_event_posted_to_the_api_is_one_trace_to_the_webhook_and_the_mail(
    journey_env: JourneyEnv, api_client_for: ApiClientFactory, spans: InMemorySpanExporter
) -> None:
    receiver, mail = journey_env.http_receiver, journey_env.smtp_server
    trace_id, caller_span, traceparent = caller_context()
    async with observed_stack(journey_env, api_client_for, **TRACING) as stack:
        ingest = stack.ingest
        journey = ingest.journey(webhook_then_email(receiver.url("/hook")))
        ingest.trigger(journey, event_type="signup")
        ingest.user("ada", email="ada@example.com")
        async with ingest.consumer(client=stack.client) as consumer:
            posted = await stack.api.post(
                "/api/events",
                json={"type": "signup", "user_id": "ada"},
                headers={"traceparent": traceparent},
            )
            assert posted.status_code == 202, posted.text
            await ingest.handled(consumer, 1)
            await ingest.wait_for(
                lambda: (
                    ingest.count(WorkflowExecution, WorkflowExecution.status == "completed") == 1
                ),
                "the run to complete",
            )
        topic = ingest.settings.kafka_events_topic
    await mail.wait_for(1)
    [request] = await receiver.wait_for(1)

    traced = [s for s in spans.get_finished_spans() if trace_of(s) == trace_id]
    server = by_name(traced, "POST /api/events")
    assert server.kind == SpanKind.SERVER and parent_of(server) == caller_span
    consume = by_name(traced, f"process {topic}")
    assert consume.kind == SpanKind.CONSUMER and parent_of(consume) == span_id(server)
    assert consume.attributes is not None
    assert consume.attributes["journey.event.id"] == posted.json()["ids"][0]
    assert_run_chain(traced, start_parent=span_id(consume))
    # The receiver saw the trace context of the request span that called it.
    [post] = [s for s in traced if s.name == "POST" and s.kind == SpanKind.CLIENT]
    assert request.headers["traceparent"] == f"00-{trace_id:032x}-{span_id(post):016x}-01"


async def test_a_run_started_through_the_api_is_one_trace(
    journey_env: JourneyEnv, api_client_for: ApiClientFactory, spans: InMemorySpanExporter
) -> None:
    trace_id, caller_span, traceparent = caller_context()
    async with observed_stack(journey_env, api_client_for, **TRACING) as stack:
        journey = stack.ingest.journey(webhook_then_email(journey_env.http_receiver.url("/hook")))
        stack.ingest.user("bob", email="bob@example.com")
        started = await stack.api.post(
            f"/api/workflows/{journey}/start",
            json={"user_id": "bob"},
            headers={"traceparent": traceparent},
        )
        assert started.status_code == 201, started.text
        handle = stack.client.get_workflow_handle(started.json()["temporal_workflow_id"])
        await handle.result()

    traced = [s for s in spans.get_finished_spans() if trace_of(s) == trace_id]
    server = by_name(traced, "POST /api/workflows/{journey_id}/start")
    assert parent_of(server) == caller_span
    assert_run_chain(traced, start_parent=span_id(server))


async def test_a_message_from_any_producer_continues_its_traceparent(
    journey_env: JourneyEnv, api_client_for: ApiClientFactory, spans: InMemorySpanExporter
) -> None:
    trace_id, producer_span, traceparent = caller_context()
    async with observed_stack(journey_env, api_client_for, **TRACING) as stack:
        ingest = stack.ingest
        ingest.trigger(ingest.journey(), event_type="signup", create_profile=True)
        event = EventEnvelope(type="signup", user_id="cy")
        producer = Producer({"bootstrap.servers": ingest.settings.resolved_kafka_bootstrap})
        producer.produce(
            ingest.settings.kafka_events_topic,
            event.model_dump_json().encode(),
            key=b"cy",
            headers=[("traceparent", traceparent.encode())],
        )
        assert producer.flush(30) == 0
        async with ingest.consumer(client=stack.client) as consumer:
            await ingest.handled(consumer, 1)

    traced = [s for s in spans.get_finished_spans() if trace_of(s) == trace_id]
    consume = by_name(traced, f"process {ingest.settings.kafka_events_topic}")
    assert parent_of(consume) == producer_span
    start = by_name(traced, "StartWorkflow:journey.Journey")
    assert parent_of(start) == span_id(consume)


async def test_with_tracing_off_nothing_is_recorded_or_sent(
    journey_env: JourneyEnv, api_client_for: ApiClientFactory, spans: InMemorySpanExporter
) -> None:
    receiver = journey_env.http_receiver
    async with observed_stack(journey_env, api_client_for) as stack:  # the default: none
        assert not stack.ingest.settings.tracing_enabled
        journey = stack.ingest.journey(webhook_then_email(receiver.url("/hook")))
        stack.ingest.user("dee", email="dee@example.com")
        started = await stack.api.post(
            f"/api/workflows/{journey}/start",
            json={"user_id": "dee"},
            headers={"traceparent": caller_context()[2], "Idempotency-Key": uuid.uuid4().hex},
        )
        assert started.status_code == 201, started.text
        await stack.client.get_workflow_handle(started.json()["temporal_workflow_id"]).result()
    [request] = await receiver.wait_for(1)
    assert "traceparent" not in request.headers
    assert spans.get_finished_spans() == ()


async def test_events_decided_together_link_a_batch_span_and_keep_their_own_traces(
    journey_env: JourneyEnv, api_client_for: ApiClientFactory, spans: InMemorySpanExporter
) -> None:
    async with observed_stack(journey_env, api_client_for, **TRACING) as stack:
        ingest = stack.ingest
        ingest.trigger(ingest.journey(), event_type="signup", create_profile=True)
        producer = Producer({"bootstrap.servers": ingest.settings.resolved_kafka_bootstrap})
        callers = {}
        for user in ("ed", "flo"):  # both wait for the consumer: one batch, two user groups
            trace_id, producer_span, traceparent = caller_context()
            callers[trace_id] = producer_span
            value = EventEnvelope(type="signup", user_id=user).model_dump_json().encode()
            headers = [("traceparent", traceparent.encode())]
            # One partition: one fetch brings both, so the consumer takes them in one batch.
            producer.produce(
                ingest.settings.kafka_events_topic,
                value,
                key=user.encode(),
                headers=headers,
                partition=0,
            )
        assert producer.flush(30) == 0
        async with ingest.consumer(client=stack.client) as consumer:
            await ingest.handled(consumer, 2)

    finished = list(spans.get_finished_spans())
    [batch] = [s for s in finished if (s.attributes or {}).get("messaging.batch.message_count")]
    assert batch.kind == SpanKind.CONSUMER and batch.attributes is not None
    assert batch.attributes["messaging.batch.message_count"] == 2
    assert {(link.context.trace_id, link.context.span_id) for link in batch.links} == set(
        callers.items()
    )
    # Each event's run starts in a consumer span of the event's own trace, under its producer.
    starts = [s for s in finished if s.name == "StartWorkflow:journey.Journey"]
    assert len(starts) == 2
    processes = {span_id(s): s for s in finished if s.kind == SpanKind.CONSUMER and s is not batch}
    for start in starts:
        process = processes[parent_of(start)]
        assert (trace_of(process), parent_of(process)) in callers.items()
    assert {trace_of(start) for start in starts} == set(callers)


def test_the_settings_name_the_exporter_and_none_means_off() -> None:
    off = IsolatedSettings(_env_file=None)
    assert off.tracing_exporter == "none" and not off.tracing_enabled
    assert configure_tracing(off, "journey-test") is None
    with pytest.raises(ValueError, match="exports nothing"):
        span_exporter(off)
    console = off.model_copy(update={"tracing_exporter": "console"})
    assert isinstance(span_exporter(console), ConsoleSpanExporter)
    otlp = off.model_copy(update={"tracing_exporter": "otlp", "otlp_endpoint": "http://c:4318/x"})
    assert isinstance(span_exporter(otlp), OTLPSpanExporter)

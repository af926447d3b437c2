"""W3C trace context in Kafka headers: injected by Journey's producers, continued by the
consumer, so an event's trace runs from the API request (or any producer that sets
`traceparent`) through the journey it starts. Events the consumer decides together (its batch
path, journey/ingest/batch.py) share one span for the shared decision, linked to each
producer's span; each event's own starts and signals still run in a span of its own trace.

A producer without an active span adds no header, so producing costs nothing when tracing is
off. Header names are the W3C ones (`traceparent`, `tracestate`, `baggage`), which other
Kafka instrumentations use as well.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from confluent_kafka import Message
from opentelemetry import propagate, trace
from opentelemetry.trace import Link, SpanKind

from journey.core.config import Settings
from journey.core.telemetry.logs import event_scope
from journey.core.telemetry.tracing import tracer

__all__ = ["consuming", "consuming_together", "trace_headers"]


def trace_headers() -> list[tuple[str, str | bytes | None]]:
    """The current trace context as Kafka headers (none outside a recorded span)."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return [(name, value.encode()) for name, value in carrier.items()]


def _carrier(message: Message) -> dict[str, str]:
    carrier: dict[str, str] = {}
    headers = message.headers() or []
    for name, value in headers.items() if isinstance(headers, dict) else headers:
        if isinstance(value, bytes):
            carrier[name.lower()] = value.decode("latin-1")
    return carrier


@contextmanager
def consuming(settings: Settings, message: Message) -> Iterator[None]:
    """The scope of handling one message: a consumer span continuing the producer's trace
    (when tracing is on) and the log scope that `bind_event_id` fills in."""
    with event_scope():
        if not settings.tracing_enabled:
            yield
            return
        topic = message.topic() or ""
        with tracer(settings).start_as_current_span(
            f"process {topic}",
            context=propagate.extract(_carrier(message)),
            kind=SpanKind.CONSUMER,
            attributes={
                "messaging.system": "kafka",
                "messaging.operation.type": "process",
                "messaging.destination.name": topic,
                "messaging.destination.partition.id": str(message.partition()),
                "messaging.kafka.offset": message.offset() or 0,
                "messaging.consumer.group.name": settings.kafka_consumer_group,
            },
        ):
            yield


@contextmanager
def consuming_together(settings: Settings, messages: list[Message]) -> Iterator[None]:
    """One span for messages decided as a batch (the consumer's batch path), linked to each
    message's producer span: links, not parents, as the messaging conventions have it for
    batches, since a span has one parent. The runs each event starts are started inside its
    own `consuming` span (the dispatcher's per-event scope), so they stay in its trace."""
    if not settings.tracing_enabled or len(messages) < 2:  # one: the usual path handles it
        yield
        return
    links = []
    for message in messages:
        context = trace.get_current_span(propagate.extract(_carrier(message))).get_span_context()
        if context.is_valid:
            links.append(Link(context))
    topic = messages[0].topic() or ""
    with tracer(settings).start_as_current_span(
        f"process {topic}",
        kind=SpanKind.CONSUMER,
        links=links,
        attributes={
            "messaging.system": "kafka",
            "messaging.operation.type": "process",
            "messaging.destination.name": topic,
            "messaging.batch.message_count": len(messages),
            "messaging.consumer.group.name": settings.kafka_consumer_group,
        },
    ):
        yield

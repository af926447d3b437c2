"""emit_event against the real broker: the envelope, key and headers are consumed back."""

from __future__ import annotations

import json
from collections.abc import Iterator
from uuid import uuid4

import pytest
from confluent_kafka import Consumer, Message, Producer, TopicPartition
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.events import EventActivities, event_id_for
from journey.contracts.actions import TEMPLATE_ERROR, EmitEventInput
from journey.core.config import Settings
from journey.core.kafka.clients import make_producer
from journey.core.ledger import Ledger
from tests.activities.helpers import assert_non_retryable, make_context, make_meta
from tests.harness.kafka import consumer_config


@pytest.fixture
def producer(settings: Settings) -> Iterator[Producer]:
    producer = make_producer(settings)
    yield producer
    producer.flush(5)
    producer.close()


def consume_at(settings: Settings, partition: int, offset: int) -> Message:
    """Read the one message at (partition, offset), without joining a consumer group."""
    consumer = Consumer(consumer_config(settings.resolved_kafka_bootstrap, f"g-{uuid4().hex}"))
    try:
        consumer.assign([TopicPartition(settings.kafka_emitted_topic, partition, offset)])
        for _ in range(100):
            message = consumer.poll(0.2)
            if message is not None and message.error() is None:
                return message
        raise AssertionError(f"nothing at {settings.kafka_emitted_topic}[{partition}]@{offset}")
    finally:
        consumer.close()


async def test_event_is_produced_with_envelope_key_and_headers(
    settings: Settings, producer: Producer, ledger: Ledger
) -> None:
    meta = make_meta(user_id="u1")
    request = EmitEventInput(
        meta=meta,
        event_type="journey.{{ vars.kind }}",
        payload={"plan": "{{ user.attributes.plan }}", "score": 7},
        context=make_context(vars={"kind": "welcomed"}),
    )
    result = await ActivityEnvironment().run(
        EventActivities(settings, producer, ledger).emit_event, request
    )

    assert result.topic == settings.kafka_emitted_topic
    assert result.event_id == event_id_for(meta.effect_key)
    message = consume_at(settings, result.partition, result.offset)
    assert message.key() == b"u1"
    raw_headers: list[tuple[str, bytes]] = list(message.headers() or [])  # type: ignore[arg-type]
    headers = {name: value.decode() for name, value in raw_headers}
    assert headers == {
        "journey-effect-key": meta.effect_key,
        "journey-id": "j-onboarding",
        "workflow-id": meta.workflow_id,
        "run-id": meta.run_id,
    }
    value = message.value()
    assert value is not None
    envelope = json.loads(value)
    assert envelope["id"] == result.event_id
    assert envelope["type"] == "journey.welcomed"
    assert envelope["user_id"] == "u1"
    assert envelope["properties"] == {"plan": "pro", "score": 7}
    assert envelope["timestamp"].endswith("Z")


async def test_a_rerun_with_the_same_key_publishes_nothing_new(
    settings: Settings, producer: Producer, ledger: Ledger
) -> None:
    activities = EventActivities(settings, producer, ledger)
    meta = make_meta()
    request = EmitEventInput(meta=meta, event_type="x", payload=None, context=make_context())
    first = await ActivityEnvironment().run(activities.emit_event, request)
    rerun = await ActivityEnvironment().run(activities.emit_event, request)
    assert rerun == first  # the recorded result, not a second message
    envelope = json.loads(consume_at(settings, first.partition, first.offset).value() or b"")
    assert envelope["id"] == first.event_id == event_id_for(meta.effect_key)
    assert envelope["properties"] == {}
    recorded = ledger.lookup(meta.effect_key)
    assert recorded is not None and (recorded.kind, recorded.outcome) == ("emit_event", "delivered")
    watcher = Consumer(consumer_config(settings.resolved_kafka_bootstrap, "watermarks"))
    try:
        partition = TopicPartition(settings.kafka_emitted_topic, first.partition)
        _, high = watcher.get_watermark_offsets(partition, timeout=10)
    finally:
        watcher.close()
    assert high == first.offset + 1  # nothing was produced after the first message


async def test_template_error_produces_nothing(
    settings: Settings, producer: Producer, ledger: Ledger
) -> None:
    request = EmitEventInput(
        meta=make_meta(),
        event_type="x",
        payload={"v": "{{ event.properties.plan }}"},  # event is None
        context=make_context(),
    )
    with pytest.raises(ApplicationError) as info:
        await ActivityEnvironment().run(
            EventActivities(settings, producer, ledger).emit_event, request
        )
    assert_non_retryable(info, TEMPLATE_ERROR)

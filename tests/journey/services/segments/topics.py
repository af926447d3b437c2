"""Reading everything a test's events topic holds, without waiting for silence.

`read_all` produces a sentinel after what it wants to read and consumes from the start until the
sentinel arrives: on a single-partition topic everything produced (and acknowledged) before is
ahead of it, so "no further event" needs no timeout. The deadline is only a hang guard.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Consumer, Producer

from journey.core.config import Settings
from tests.harness.kafka import consumer_config

HANG_GUARD_SECONDS = 120.0


@dataclass(frozen=True)
class Message:
    key: str | None
    value: dict[str, Any]


def read_all(settings: Settings) -> list[Message]:
    """Every message on the (single-partition) events topic, in order, sentinels left out."""
    topic = settings.kafka_events_topic
    sentinel = f"sentinel-{uuid.uuid4().hex}"
    producer = Producer({"bootstrap.servers": settings.resolved_kafka_bootstrap})
    producer.produce(topic, json.dumps({"sentinel": sentinel}).encode(), key=b"sentinel")
    assert producer.flush(30) == 0
    group = f"reader-{uuid.uuid4().hex[:8]}"
    consumer = Consumer(consumer_config(settings.resolved_kafka_bootstrap, group))
    consumer.subscribe([topic])
    messages: list[Message] = []
    deadline = time.monotonic() + HANG_GUARD_SECONDS
    try:
        while time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None or message.error() is not None:
                continue
            value = json.loads(message.value() or b"null")
            if isinstance(value, dict) and "sentinel" in value:
                if value["sentinel"] == sentinel:
                    return messages
                continue
            key = message.key()
            messages.append(Message(key.decode() if key else None, value))
    finally:
        consumer.close()
    raise AssertionError(f"the sentinel never arrived; read {len(messages)} messages")

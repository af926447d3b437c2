"""The ingest consumer against a real broker and database: record once, dead-letter the rest,
commit offsets only for handled batches."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator

import pytest
from confluent_kafka import Consumer, Producer
from sqlalchemy import Engine
from sqlmodel import Session, select

from dsl.events import EventEnvelope
from journey.config import Settings
from journey.db.engine import make_session_factory
from journey.db.models import LifecycleEvent, User
from journey.ingest import EventConsumer
from journey.kafka import ensure_topics
from tests.harness.env import JourneyEnv
from tests.harness.kafka import consumer_config


@pytest.fixture
def ingest_settings(journey_env: JourneyEnv, database_url: str) -> Settings:
    suffix = uuid.uuid4().hex[:8]
    settings = journey_env.settings.model_copy(
        update={
            "database_url": database_url,
            "kafka_events_topic": f"events-{suffix}",
            "kafka_dead_letter_topic": f"dlq-{suffix}",
            "kafka_consumer_group": f"ingest-{suffix}",
        }
    )
    ensure_topics(settings)
    return settings


def produce(settings: Settings, values: list[bytes]) -> None:
    producer = Producer({"bootstrap.servers": settings.resolved_kafka_bootstrap})
    for value in values:
        producer.produce(settings.kafka_events_topic, value, key=b"u1")
    assert producer.flush(15) == 0


def consume_until_caught_up(settings: Settings, engine: Engine, expected: int) -> EventConsumer:
    consumer = EventConsumer(settings, make_session_factory(engine))
    stop = threading.Event()
    thread = threading.Thread(target=consumer.run, args=(stop,))
    thread.start()
    try:
        for _ in range(300):
            if consumer.handled >= expected:
                break
            stop.wait(0.1)
    finally:
        stop.set()
        thread.join(30)
    return consumer


@pytest.fixture
def drain() -> Iterator[list[Consumer]]:
    consumers: list[Consumer] = []
    yield consumers
    for consumer in consumers:
        consumer.close()


def read_all(
    settings: Settings, topic: str, group: str, drain: list[Consumer], expect: int
) -> list[bytes]:
    """Everything `group` would read from `topic`, waiting up to 20s for `expect` messages."""
    consumer = Consumer(consumer_config(settings.resolved_kafka_bootstrap, group))
    drain.append(consumer)
    consumer.subscribe([topic])
    values: list[bytes] = []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and (len(values) < expect or not consumer.assignment()):
        for message in consumer.consume(num_messages=100, timeout=0.5):
            value = message.value()
            if message.error() is None and value is not None:
                values.append(value)
    return values


def test_events_are_recorded_once_and_garbage_is_dead_lettered(
    ingest_settings: Settings, migrated_engine: Engine, drain: list[Consumer]
) -> None:
    with Session(migrated_engine) as session:
        session.add(User(id="u1", email="u1@example.com"))
        session.commit()
    signup = EventEnvelope(type="signup", user_id="u1", properties={"plan": "pro"})
    stranger = EventEnvelope(type="signup", user_id="nobody-yet")
    duplicate = signup.model_dump_json().encode()
    produce(ingest_settings, [duplicate, b"not json", b'{"type": "x"}', duplicate,
                              stranger.model_dump_json().encode()])  # fmt: skip

    consumer = consume_until_caught_up(ingest_settings, migrated_engine, expected=5)
    assert (consumer.recorded, consumer.duplicates, consumer.dead_lettered) == (2, 1, 2)

    with Session(migrated_engine) as session:
        rows = session.exec(select(LifecycleEvent).order_by(LifecycleEvent.id)).all()
    assert [(row.event_type, row.user_id, row.event_data["id"]) for row in rows] == [
        ("signup", "u1", signup.id),
        ("signup", None, stranger.id),  # no profile yet: the envelope still names the user
    ]
    assert rows[0].event_data["properties"] == {"plan": "pro"}

    dead = read_all(
        ingest_settings, ingest_settings.kafka_dead_letter_topic, "dlq-reader", drain, expect=2
    )
    assert sorted(dead) == sorted([b"not json", b'{"type": "x"}'])
    # Offsets were committed: the same group starts after everything it handled.
    group = ingest_settings.kafka_consumer_group
    assert read_all(ingest_settings, ingest_settings.kafka_events_topic, group, drain, 0) == []


def test_a_restarted_consumer_does_not_record_twice(
    ingest_settings: Settings, migrated_engine: Engine
) -> None:
    event = EventEnvelope(type="page.viewed", user_id="u2")
    produce(ingest_settings, [event.model_dump_json().encode()])
    assert consume_until_caught_up(ingest_settings, migrated_engine, 1).recorded == 1
    # Redelivery (same id, new consumer group so it is read again) changes nothing.
    fresh_group = ingest_settings.model_copy(update={"kafka_consumer_group": "second-reader"})
    again = consume_until_caught_up(fresh_group, migrated_engine, 1)
    assert (again.recorded, again.duplicates) == (0, 1)
    with Session(migrated_engine) as session:
        ids = [
            json.dumps(row.event_data["id"]) for row in session.exec(select(LifecycleEvent)).all()
        ]
    assert ids == [json.dumps(event.id)]

"""Poison messages go to the dead-letter topic, verbatim and labelled, and the consumer goes on.

On the real broker: each kind of unusable message (empty, oversized, not JSON, not an
envelope) is copied to the dead-letter topic with its key, value and headers, plus headers
naming the kind, where it came from and which group gave up on it. The consumer keeps
consuming, and the committed offsets move past the poison so nobody reads it again.
`parse_message` is also tested directly on hand-built messages where confluent-kafka allows it.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from confluent_kafka import (
    OFFSET_BEGINNING,
    TIMESTAMP_CREATE_TIME,
    TIMESTAMP_NOT_AVAILABLE,
    Consumer,
    KafkaError,
    Message,
    Producer,
    TopicPartition,
)
from sqlmodel import select

from dsl.events import EventEnvelope
from journey.contracts.ids import trigger_workflow_id
from journey.core.config import Settings
from journey.core.db.models import LifecycleEvent, TriggerExecution, WorkflowExecution
from journey.ingest.dead_letters import ERROR_HEADER
from journey.ingest.envelopes import POISON_KINDS, PoisonMessage, parse_message
from tests.journey.ingest.conftest import IngestStack

MAX_BYTES = 8192  # the oversized case's consumer limit; every other case is below it


def envelope_json(**fields: Any) -> bytes:
    return json.dumps(fields).encode()


# (key, value, kind): every key is distinct, so a dead letter is found by its key.
POISON: list[tuple[bytes, bytes | None, str]] = [
    (b"empty-value", b"", "empty"),
    (b"null-value", None, "empty"),  # a tombstone
    (b"not-json", b"signup ada pro", "not_json"),
    (b"truncated-json", b'{"type": "signup", "user_id": "ada"', "not_json"),
    (b"invalid-utf8", b'{"type": "signup", "user_id": "\xff\xfe"}', "not_json"),
    # json.loads raises RecursionError and a plain ValueError for these, not JSONDecodeError.
    (b"deep-nesting", b"[" * 3000 + b"]" * 3000, "not_json"),
    (b"huge-number", b'{"type": "signup", "user_id": "n", "n": ' + b"9" * 5000 + b"}", "not_json"),
    (
        b"oversized",
        envelope_json(type="signup", user_id="big", properties={"pad": "x" * MAX_BYTES}),
        "oversized",
    ),
    (b"missing-type", envelope_json(user_id="ada"), "invalid_envelope"),
    (b"missing-user", envelope_json(type="signup"), "invalid_envelope"),
    (b"numeric-user", envelope_json(type="signup", user_id=42), "invalid_envelope"),
    # Workflow ids map a NUL to `_`: "ada\x00" would share its runs' ids with "ada_".
    (b"nul-in-user", envelope_json(type="signup", user_id="ada\x00"), "invalid_envelope"),
    (
        b"list-properties",
        envelope_json(type="signup", user_id="ada", properties=["pro"]),
        "invalid_envelope",
    ),
    (b"bad-type-pattern", envelope_json(type="sign up!", user_id="ada"), "invalid_envelope"),
    (
        b"bad-timestamp",
        envelope_json(type="signup", user_id="ada", timestamp="yesterday"),
        "invalid_envelope",
    ),
    (b"unknown-field", envelope_json(type="signup", user_id="ada", plan="pro"), "invalid_envelope"),
    (b"null-id", envelope_json(id=None, type="signup", user_id="ada"), "invalid_envelope"),
    (b"json-array", b'[{"type": "signup", "user_id": "ada"}]', "invalid_envelope"),
    (b"json-string", b'"signup"', "invalid_envelope"),
]

ORIGINAL_HEADER = ("trace-id", b"abc-123")


@dataclass(frozen=True)
class Sent:
    key: bytes
    value: bytes | None
    partition: int
    offset: int
    timestamp: int


def produce_raw(
    ingest: IngestStack,
    messages: list[tuple[bytes, bytes | None]],
    *,
    timestamp: int = 0,
    partition: int | None = None,
) -> list[Sent]:
    """Produce exactly these bytes (with ORIGINAL_HEADER); -> where each one landed."""
    settings = ingest.settings
    producer = Producer({"bootstrap.servers": settings.resolved_kafka_bootstrap})
    sent: list[Sent] = []

    def delivered(error: KafkaError | None, message: Message) -> None:
        ingest.delivered(error, message)
        sent.append(
            Sent(
                message.key() or b"",
                message.value(),
                message.partition() or 0,
                message.offset() or 0,
                message.timestamp()[1],
            )
        )

    for key, value in messages:
        extra: dict[str, Any] = {"timestamp": timestamp} if timestamp else {}
        if partition is not None:
            extra["partition"] = partition
        producer.produce(
            settings.kafka_events_topic,
            value,
            key=key,
            headers=[ORIGINAL_HEADER],
            on_delivery=delivered,
            **extra,
        )
    assert producer.flush(30) == 0
    return sent


def read_dead_letters(settings: Settings, count: int, seconds: float = 60.0) -> list[Message]:
    """The first `count` dead letters (or all that come within `seconds`), read by assignment
    (no group join)."""
    topic = settings.kafka_dead_letter_topic
    reader = Consumer(
        {
            "bootstrap.servers": settings.resolved_kafka_bootstrap,
            "group.id": f"dlq-reader-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
        }
    )
    try:
        partitions = reader.list_topics(topic, timeout=10).topics[topic].partitions
        reader.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        letters: list[Message] = []
        deadline = datetime.now(UTC) + timedelta(seconds=seconds)
        while len(letters) < count and datetime.now(UTC) < deadline:
            message = reader.poll(0.5)
            if message is not None and message.error() is None:
                letters.append(message)
        return letters
    finally:
        reader.close()


def headers_of(message: Message) -> dict[str, bytes]:
    headers = message.headers() or []
    pairs = headers.items() if isinstance(headers, dict) else headers
    return {
        name: value.encode() if isinstance(value, str) else value or b"" for name, value in pairs
    }


# ---- on the broker --------------------------------------------------------------------------


async def test_every_poison_kind_is_dead_lettered_verbatim_and_the_consumer_goes_on(
    ingest: IngestStack,
) -> None:
    trigger = ingest.trigger(ingest.journey(), create_profile=True)
    settings = ingest.settings.model_copy(update={"event_max_bytes": MAX_BYTES})
    valid = EventEnvelope(type="signup", user_id="after-the-poison")
    async with ingest.consumer(settings) as consumer:
        sent = produce_raw(ingest, [(key, value) for key, value, _ in POISON])
        ingest.produce([valid])  # after all the poison
        await ingest.handled(consumer, len(POISON) + 1)
        await ingest.wait_for(
            lambda: ingest.committed_offsets() == ingest.end_offsets(),
            "the offsets past every message to be committed",
        )
        await ingest.wait_for(
            lambda: ingest.count(WorkflowExecution, WorkflowExecution.status == "completed") == 1,
            "the valid event's run to complete",
        )
    assert consumer.tally.dead_lettered == len(POISON)
    assert consumer.tally.events == 1
    assert consumer.tally.started == 1
    assert ingest.started_ids() == [
        trigger_workflow_id(trigger, valid.user_id, valid.id, once=False)
    ]
    assert ingest.count(LifecycleEvent) == 1  # poison is not recorded
    assert ingest.count(TriggerExecution) == 1

    # One letter each, no more: read one more than expected (tansu's watermarks undercount
    # batched records, so the topic is read, not measured).
    letters = await asyncio.to_thread(read_dead_letters, settings, len(POISON) + 1, 10.0)
    assert len(letters) == len(POISON)
    by_key = {letter.key(): letter for letter in letters}
    origin = {message.key: message for message in sent}
    for key, value, kind in POISON:
        letter = by_key[key]
        headers = headers_of(letter)
        assert headers[ERROR_HEADER] == kind.encode(), (key, headers)
        assert headers["journey-error-detail"], key
        assert letter.value() == value, (key, letter.value())
        assert headers["journey-source-topic"] == settings.kafka_events_topic.encode()
        assert headers["journey-source-partition"] == str(origin[key].partition).encode(), key
        assert headers["journey-source-offset"] == str(origin[key].offset).encode(), key
        assert headers["journey-consumer-group"] == settings.kafka_consumer_group.encode()
        at = datetime.fromisoformat(headers["journey-dead-lettered-at"].decode())
        assert abs(datetime.now(UTC) - at) < timedelta(minutes=5)
        assert headers[ORIGINAL_HEADER[0]] == ORIGINAL_HEADER[1], key  # the producer's headers
    assert {kind for _, _, kind in POISON} == set(POISON_KINDS) - {"processing_failed"}
    assert b"8192" in headers_of(by_key[b"oversized"])["journey-error-detail"]
    assert b"/user_id" in headers_of(by_key[b"numeric-user"])["journey-error-detail"]
    nul_detail = headers_of(by_key[b"nul-in-user"])["journey-error-detail"]
    assert b"/user_id" in nul_detail and b"U+0000" in nul_detail


async def test_a_message_too_large_for_the_dead_letter_topic_keeps_its_evidence(
    ingest: IngestStack,
) -> None:
    # Over the dead-letter producer's 1,000,000-byte limit but accepted by the broker.
    huge = envelope_json(type="signup", user_id="huge", properties={"pad": "x" * 1_020_000})
    producer = Producer(
        {
            "bootstrap.servers": ingest.settings.resolved_kafka_bootstrap,
            "message.max.bytes": 2_000_000,
        }
    )
    producer.produce(ingest.settings.kafka_events_topic, huge, key=b"huge")
    assert producer.flush(30) == 0
    after = EventEnvelope(type="signup", user_id="after-huge")
    async with ingest.consumer() as consumer:
        ingest.produce([after])
        await ingest.handled(consumer, 2)
    [letter] = await asyncio.to_thread(read_dead_letters, ingest.settings, 1)
    headers = headers_of(letter)
    assert headers[ERROR_HEADER] == b"oversized"
    assert headers["journey-value-dropped"] == str(len(huge)).encode()
    assert letter.value() is None and letter.key() == b"huge"
    assert consumer.tally.events == 1  # the consumer went on to the next event


async def test_a_new_consumer_in_the_group_reads_nothing_past_the_poison(
    ingest: IngestStack,
) -> None:
    poison = [(key, value) for key, value, kind in POISON if kind != "oversized"]
    async with ingest.consumer() as first:
        produce_raw(ingest, poison)
        await ingest.handled(first, len(poison))
        await ingest.wait_for(
            lambda: ingest.committed_offsets() == ingest.end_offsets(), "the first commit"
        )
    assert first.tally.dead_lettered == len(poison)
    partitions = sorted(ingest.end_offsets())

    # The same group again: one fresh valid event per partition, and nothing else to read.
    async with ingest.consumer() as second:
        for partition in partitions:
            event = EventEnvelope(type="login", user_id=f"u{partition}")
            value = event.model_dump_json().encode()
            produce_raw(ingest, [(event.user_id.encode(), value)], partition=partition)
        await ingest.wait_for(
            lambda: (
                second.tally.events >= len(partitions)
                and ingest.committed_offsets() == ingest.end_offsets()
            ),
            "the new events to be handled and committed",
        )
    assert second.tally.events == len(partitions)
    assert second.tally.dead_lettered == 0  # the poison was not read again
    letters = await asyncio.to_thread(read_dead_letters, ingest.settings, len(poison) + 1, 10.0)
    assert len(letters) == len(poison)
    assert ingest.count(LifecycleEvent) == len(partitions)


async def test_an_envelope_without_id_or_timestamp_gets_its_kafka_coordinates(
    ingest: IngestStack,
) -> None:
    trigger = ingest.trigger(ingest.journey(), create_profile=True)
    produced_at = datetime(2026, 3, 4, 5, 6, 7, 890_000, tzinfo=UTC)
    bare = envelope_json(type="signup", user_id="no-id", properties={"plan": "pro"})
    async with ingest.consumer() as consumer:
        [sent] = produce_raw(
            ingest, [(b"no-id", bare)], timestamp=int(produced_at.timestamp() * 1000)
        )
        await ingest.handled(consumer, 1)
        await ingest.wait_for(lambda: ingest.count(WorkflowExecution) == 1, "the run to start")
    assert consumer.tally.dead_lettered == 0
    event_id = f"{ingest.settings.kafka_events_topic}:{sent.partition}:{sent.offset}"
    with ingest.sessions() as session:
        [row] = session.exec(select(LifecycleEvent)).all()
    assert row.event_id == event_id
    assert row.event_data is not None
    assert row.event_data["id"] == event_id
    assert datetime.fromisoformat(row.event_data["timestamp"]) == produced_at
    [decision] = ingest.decisions(trigger)
    assert decision.event_id == event_id
    assert decision.event_at is not None
    assert decision.event_at.replace(tzinfo=decision.event_at.tzinfo or UTC) == produced_at
    assert ingest.started_ids() == [trigger_workflow_id(trigger, "no-id", event_id, once=False)]


# ---- parse_message on hand-built messages -----------------------------------------------------


def message(
    value: bytes | None,
    *,
    timestamp: tuple[int, int] = (TIMESTAMP_CREATE_TIME, 1_767_225_600_000),
    offset: int = 41,
) -> Message:
    try:
        return Message(
            topic="events", partition=2, offset=offset, key=b"k", value=value, timestamp=timestamp
        )
    except TypeError:  # older confluent-kafka cannot build one: the broker tests cover it
        pytest.skip("this confluent-kafka cannot construct a Message")


def kind_of(value: bytes | None, max_bytes: int = 1024) -> str:
    with pytest.raises(PoisonMessage) as caught:
        parse_message(message(value), max_bytes=max_bytes)
    assert caught.value.kind in POISON_KINDS
    return caught.value.kind


@pytest.mark.parametrize(
    ("value", "kind"), [(v, k) for _, v, k in POISON], ids=[k.decode() for k, _, _ in POISON]
)
def test_parse_message_names_the_poison(value: bytes | None, kind: str) -> None:
    assert kind_of(value, max_bytes=MAX_BYTES) == kind


def test_the_size_limit_is_inclusive() -> None:
    raw = envelope_json(type="signup", user_id="ada")
    assert parse_message(message(raw), max_bytes=len(raw)).user_id == "ada"
    assert kind_of(raw, max_bytes=len(raw) - 1) == "oversized"


def test_a_missing_id_and_timestamp_come_from_the_message() -> None:
    raw = envelope_json(type="signup", user_id="ada")
    envelope = parse_message(message(raw), max_bytes=1024)
    assert envelope.id == "events:2:41"
    assert envelope.timestamp == datetime(2026, 1, 1, tzinfo=UTC)
    again = parse_message(message(raw), max_bytes=1024)
    assert (again.id, again.timestamp) == (envelope.id, envelope.timestamp)  # redelivery


def test_the_producers_id_and_timestamp_win() -> None:
    raw = envelope_json(id="e-1", type="signup", user_id="ada", timestamp="2025-05-05T05:05:05Z")
    envelope = parse_message(message(raw), max_bytes=1024)
    assert envelope.id == "e-1"
    assert envelope.timestamp == datetime(2025, 5, 5, 5, 5, 5, tzinfo=UTC)


def test_without_a_broker_timestamp_the_envelope_is_stamped_on_arrival() -> None:
    raw = envelope_json(type="signup", user_id="ada")
    before = datetime.now(UTC)
    envelope = parse_message(message(raw, timestamp=(TIMESTAMP_NOT_AVAILABLE, -1)), max_bytes=1024)
    assert before <= envelope.timestamp <= datetime.now(UTC)


@pytest.mark.parametrize("millis", [2**62, 253402300800000, -5])
def test_a_broker_timestamp_datetime_cannot_hold_is_treated_as_missing(millis: int) -> None:
    # A producer sets CreateTime freely; one past year 9999 used to escape parse_message as a
    # ValueError and stop the consumer (on every restart: the offset was never committed).
    raw = envelope_json(type="signup", user_id="ada")
    before = datetime.now(UTC)
    stamped = message(raw, timestamp=(TIMESTAMP_CREATE_TIME, millis))
    envelope = parse_message(stamped, max_bytes=1024)
    assert before <= envelope.timestamp <= datetime.now(UTC)

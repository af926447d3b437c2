"""The Kafka event consumer (`journey ingest`).

It reads the events topic as one consumer group, records every valid envelope in the audit log
(`lifecycle_events`) once, dead-letters what it cannot parse, and commits a batch's offsets only
after the whole batch has been handled, so a crash re-delivers rather than loses events.
Trigger matching and journey starts build on this loop.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from typing import Any

from confluent_kafka import Consumer, KafkaError, Message
from pydantic import ValidationError
from sqlmodel import select

from dsl.events import EventEnvelope
from journey.config import Settings
from journey.db.engine import SessionFactory, create_db_engine, make_session_factory
from journey.db.models import LifecycleEvent, User
from journey.kafka import ensure_topics, make_producer
from journey.runtime import announce_ready, stop_event_on_signals

log = logging.getLogger(__name__)

BATCH_SIZE = 100
POLL_SECONDS = 0.5


def make_consumer(settings: Settings) -> Consumer:
    return Consumer(
        {
            "bootstrap.servers": settings.resolved_kafka_bootstrap,
            "group.id": settings.kafka_consumer_group,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "partition.assignment.strategy": "cooperative-sticky",
            "session.timeout.ms": settings.kafka_session_timeout_ms,
            "heartbeat.interval.ms": settings.kafka_heartbeat_interval_ms,
        }
    )


def parse_envelope(message: Message) -> EventEnvelope:
    raw = message.value()
    if raw is None:
        raise ValueError("empty message")
    return EventEnvelope.model_validate(json.loads(raw))


def record_event(session_factory: SessionFactory, envelope: EventEnvelope) -> bool:
    """Write the event to the audit log unless its id is already there; True if written."""
    with session_factory() as session:
        already = session.exec(
            select(LifecycleEvent.id).where(
                LifecycleEvent.event_data["id"].as_string() == envelope.id  # type: ignore[index]
            )
        ).first()
        if already is not None:
            return False
        known_user = session.get(User, envelope.user_id) is not None
        session.add(
            LifecycleEvent(
                event_type=envelope.type,
                # The FK needs an existing profile; the envelope keeps the id either way.
                user_id=envelope.user_id if known_user else None,
                event_data=envelope.model_dump(mode="json"),
            )
        )
        session.commit()
        return True


class EventConsumer:
    def __init__(self, settings: Settings, session_factory: SessionFactory) -> None:
        self._settings = settings
        self._session_factory = session_factory
        self._consumer = make_consumer(settings)
        self._dead_letters = make_producer(settings)
        self.recorded = 0
        self.duplicates = 0
        self.dead_lettered = 0

    @property
    def handled(self) -> int:
        return self.recorded + self.duplicates + self.dead_lettered

    def run(self, stop: threading.Event, on_assigned: threading.Event | None = None) -> None:
        def assigned(consumer: Consumer, partitions: list[Any]) -> None:
            if on_assigned is not None:
                on_assigned.set()

        self._consumer.subscribe([self._settings.kafka_events_topic], on_assign=assigned)
        try:
            while not stop.is_set():
                batch = self._consumer.consume(num_messages=BATCH_SIZE, timeout=POLL_SECONDS)
                if batch:
                    self._handle_batch(batch)
        finally:
            self._dead_letters.flush(10)
            self._dead_letters.close()
            self._consumer.close()

    def _handle_batch(self, batch: list[Message]) -> None:
        for message in batch:
            error = message.error()
            if error is not None:
                if error.code() != KafkaError._PARTITION_EOF:
                    log.warning("consumer error: %s", error)
                continue
            try:
                envelope = parse_envelope(message)
            except (ValueError, ValidationError) as exc:
                self._dead_letter(message, str(exc))
                continue
            if record_event(self._session_factory, envelope):
                self.recorded += 1
            else:
                self.duplicates += 1
        # Dead letters must be on the broker before the offsets that skip them are committed.
        self._dead_letters.flush(30)
        self._consumer.commit(asynchronous=False)

    def _dead_letter(self, message: Message, reason: str) -> None:
        self.dead_lettered += 1
        log.warning("dead-lettering message at offset %s: %s", message.offset(), reason[:200])
        self._dead_letters.produce(
            self._settings.kafka_dead_letter_topic,
            message.value(),
            key=message.key(),
            headers=[
                ("journey-error", reason[:1000].encode()),
                ("journey-source-topic", (message.topic() or "").encode()),
                ("journey-source-offset", str(message.offset()).encode()),
            ],
        )


async def run_ingest(settings: Settings) -> None:
    stop_async = stop_event_on_signals()
    engine = create_db_engine(settings.resolved_database_url, echo=settings.database_echo)
    await asyncio.to_thread(ensure_topics, settings)
    consumer = EventConsumer(settings, make_session_factory(engine))
    stop = threading.Event()
    worker = asyncio.create_task(asyncio.to_thread(consumer.run, stop))
    announce_ready("ingest", f"topic {settings.kafka_events_topic}")
    stopper = asyncio.create_task(stop_async.wait())
    try:
        await asyncio.wait({worker, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stop.set()
        stopper.cancel()
        await worker
        engine.dispose()


def main(settings: Settings) -> None:
    asyncio.run(run_ingest(settings))

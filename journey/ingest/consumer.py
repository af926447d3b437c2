"""The consumer loop: batches from Kafka, handled per user in order, offsets stored last.

A batch is split by (partition, key): one user's events are handled one after another, in
Kafka order, while different users proceed concurrently. Offsets are stored and committed
only when every message of the batch is done — started, signalled, recorded or dead-lettered
— so a crash, a stop or a rebalance re-delivers instead of losing. While Temporal or the
database is down the loop retries the same event with backoff and polls nothing more.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition
from temporalio.client import Client

from dsl.events import EventEnvelope
from journey.core.config import Settings
from journey.core.db.engine import SessionFactory
from journey.core.telemetry.logs import bind_event_id
from journey.core.telemetry.messages import consuming, consuming_together
from journey.ingest.dead_letters import DeadLetters
from journey.ingest.dispatcher import EventDispatcher, Tally
from journey.ingest.envelopes import PoisonMessage, parse_message
from journey.ingest.failures import is_transient
from journey.ingest.trigger_cache import TriggerCache

log = logging.getLogger(__name__)

BATCH_SIZE = 200
POLL_SECONDS = 0.5
BACKOFF_FIRST, BACKOFF_MAX = 0.2, 15.0
ATTEMPTS_BEFORE_DEAD_LETTER = 3  # for errors that are not an outage


def make_consumer(settings: Settings) -> Consumer:
    return Consumer(
        {
            "bootstrap.servers": settings.resolved_kafka_bootstrap,
            "group.id": settings.kafka_consumer_group,
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest",
            "partition.assignment.strategy": "cooperative-sticky",
            "session.timeout.ms": settings.kafka_session_timeout_ms,
            "heartbeat.interval.ms": settings.kafka_heartbeat_interval_ms,
            "max.poll.interval.ms": settings.kafka_max_poll_interval_ms,
        }
    )


class Stopped(Exception):
    """Stop was requested while waiting out an outage: leave the batch uncommitted."""


class EventConsumer:
    def __init__(self, settings: Settings, session_factory: SessionFactory, client: Client) -> None:
        self._settings = settings
        self.tally = Tally()
        # Reloaded at the start of a batch once stale; public for logs and tests, like `tally`.
        self.trigger_cache = TriggerCache(session_factory, settings.trigger_refresh_seconds)
        self._dispatcher = EventDispatcher(
            settings, session_factory, client, self.trigger_cache, self.tally
        )
        self._dead_letters = DeadLetters(settings)
        self._consumer = make_consumer(settings)
        self.assigned = threading.Event()
        self.outages = 0  # waits for Temporal/the database/the broker, for logs and tests

    async def run(self, stop: asyncio.Event) -> None:
        def on_assign(_consumer: Consumer, partitions: list[TopicPartition]) -> None:
            log.info("assigned %s", [p.partition for p in partitions])
            self.assigned.set()

        def on_revoke(_consumer: Consumer, partitions: list[TopicPartition]) -> None:
            log.info("revoked %s", [p.partition for p in partitions])

        self._consumer.subscribe(
            [self._settings.kafka_events_topic], on_assign=on_assign, on_revoke=on_revoke
        )
        try:
            while not stop.is_set():
                batch = await asyncio.to_thread(self._poll)
                messages = [message for message in batch if self._usable(message)]
                if not messages:
                    continue
                try:
                    await self._handle_batch(messages, stop)
                except Stopped:
                    break
        finally:
            self._dead_letters.close()
            await asyncio.to_thread(self._consumer.close)

    def _poll(self) -> list[Message]:
        """Up to BATCH_SIZE messages, without waiting for a full batch: `consume` would hold
        a lone event for the whole poll timeout. Wait only for the first message, then take
        whatever else the client has already fetched."""
        batch = self._consumer.consume(BATCH_SIZE, 0)
        if not batch:
            batch = self._consumer.consume(1, POLL_SECONDS)
            if batch:
                batch += self._consumer.consume(BATCH_SIZE - 1, 0)
        return batch

    @staticmethod
    def _usable(message: Message) -> bool:
        error = message.error()
        if error is None:
            return True
        if error.code() != KafkaError._PARTITION_EOF:
            log.warning("consumer error: %s", error)
        return False

    async def _handle_batch(self, messages: list[Message], stop: asyncio.Event) -> None:
        await self._until_done(lambda: asyncio.to_thread(self.trigger_cache.refresh_if_stale), stop)
        groups: dict[tuple[int, bytes | None], list[Message]] = {}
        for message in messages:
            groups.setdefault((message.partition() or 0, message.key()), []).append(message)
        handled = await self._handle_together([group[0] for group in groups.values()])
        gate = asyncio.Semaphore(self._settings.ingest_concurrency)

        async def handle_group(group: list[Message]) -> None:
            async with gate:
                for message in group:
                    if id(message) not in handled:
                        await self._handle_message(message, stop)

        # Every group finishes (or reaches its next wait, once stop is set) before this
        # returns: none may outlive the batch and act after the consumer closed.
        outcomes = await asyncio.gather(
            *(handle_group(group) for group in groups.values()), return_exceptions=True
        )
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
        await asyncio.to_thread(self._commit, messages)

    async def _handle_together(self, firsts: list[Message]) -> set[int]:
        """The batch path for the first message of each group (journey/ingest/batch.py); ->
        the messages it handled. On any failure none counts as handled: the usual path then
        handles them all, replaying whatever was recorded, and waits out outages."""
        by_id: dict[str, tuple[EventEnvelope, Message]] = {}
        for message in firsts:
            try:
                envelope = parse_message(message, max_bytes=self._settings.event_max_bytes)
            except PoisonMessage:
                continue  # dead-lettered on the usual path
            by_id.setdefault(envelope.id, (envelope, message))
        try:
            with consuming_together(self._settings, [m for _, m in by_id.values()]):
                done = await self._dispatcher.handle_together(
                    [e for e, _ in by_id.values()], lambda event_id: self._scope(*by_id[event_id])
                )
        except Exception as exc:
            log.warning("batch path failed, handling the batch one event at a time: %r", exc)
            return set()
        return {id(by_id[event_id][1]) for event_id in done}

    @contextmanager
    def _scope(self, envelope: EventEnvelope, message: Message) -> Iterator[None]:
        """One event's part of the batch path: its message's span, its id on log lines."""
        with consuming(self._settings, message):
            bind_event_id(envelope.id)
            yield

    def _commit(self, messages: list[Message]) -> None:
        assigned = {(tp.topic, tp.partition) for tp in self._consumer.assignment()}
        ends: dict[tuple[str, int], int] = {}
        for message in messages:
            where = (message.topic() or "", message.partition() or 0)
            ends[where] = max(ends.get(where, -1), (message.offset() or 0) + 1)
        offsets = [TopicPartition(t, p, end) for (t, p), end in ends.items() if (t, p) in assigned]
        if not offsets:
            return
        try:
            self._consumer.store_offsets(offsets=offsets)
            self._consumer.commit(asynchronous=False)
        except KafkaException as exc:  # e.g. rebalanced away: the new owner re-reads, deduped
            log.warning("could not commit offsets %s: %s", offsets, exc)

    async def _handle_message(self, message: Message, stop: asyncio.Event) -> None:
        # A span continuing the producer's trace (headers), and the event id on log lines.
        with consuming(self._settings, message):
            await self._handle_in_scope(message, stop)

    async def _handle_in_scope(self, message: Message, stop: asyncio.Event) -> None:
        try:
            envelope = parse_message(message, max_bytes=self._settings.event_max_bytes)
        except PoisonMessage as poison:
            await self._dead_letter(message, poison.kind, poison.detail, stop)
            return
        bind_event_id(envelope.id)
        error = ""
        for attempt in range(1, ATTEMPTS_BEFORE_DEAD_LETTER + 1):
            try:
                await self._until_done(lambda: self._dispatcher.handle(envelope), stop)
                return
            except Stopped:
                raise
            except Exception as exc:
                log.exception("event %s failed (attempt %d)", envelope.id, attempt)
                error = f"{type(exc).__name__}: {exc}"
        await self._dead_letter(message, "processing_failed", error, stop)

    async def _dead_letter(
        self, message: Message, kind: str, detail: str, stop: asyncio.Event
    ) -> None:
        send = self._dead_letters.send
        await self._until_done(lambda: asyncio.to_thread(send, message, kind, detail), stop)
        self.tally.dead_lettered += 1

    async def _until_done(
        self, operation: Callable[[], Awaitable[Any]], stop: asyncio.Event
    ) -> Any:
        """Run `operation`, waiting out outages with backoff; other errors propagate."""
        delay = BACKOFF_FIRST
        while True:
            try:
                return await operation()
            except Exception as exc:
                if not is_transient(exc):
                    raise
                self.outages += 1
                log.warning("waiting %.1fs for a dependency to return: %s", delay, exc)
            try:
                await asyncio.wait_for(stop.wait(), delay)
                raise Stopped
            except TimeoutError:
                delay = min(delay * 2, BACKOFF_MAX)

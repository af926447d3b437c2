"""Kafka plumbing shared by the API, the ingest consumer and `journey dev`."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from journey.config import Settings

log = logging.getLogger(__name__)


class KafkaUnavailable(RuntimeError):
    """The brokers did not answer in time."""


class ProduceFailed(KafkaUnavailable):
    """The brokers did not acknowledge every message (any failure of the produce path)."""


def admin_client(settings: Settings, *, quiet: bool = False) -> AdminClient:
    config: dict[str, Any] = {"bootstrap.servers": settings.resolved_kafka_bootstrap}
    if quiet:
        # Probes expect refused connections while a broker starts; the caller reports them.
        config["log_level"] = 0
    return AdminClient(config)


def make_producer(settings: Settings, **overrides: Any) -> Producer:
    # acks=all + idempotence: an event accepted by Journey is on every in-sync replica, once.
    config: dict[str, Any] = {
        "bootstrap.servers": settings.resolved_kafka_bootstrap,
        "acks": "all",
        "enable.idempotence": True,
        "linger.ms": 5,
        "message.timeout.ms": 30000,
    }
    config.update(overrides)
    return Producer(config)


def check_kafka(settings: Settings, timeout: float = 3.0) -> list[str]:
    """Ask the brokers for their topic list; raise KafkaUnavailable if they don't answer."""
    try:
        metadata = admin_client(settings, quiet=True).list_topics(timeout=timeout)
    except KafkaException as exc:
        raise KafkaUnavailable(f"brokers at {settings.resolved_kafka_bootstrap}: {exc}") from exc
    return sorted(metadata.topics)


def ensure_topics(
    settings: Settings, topics: list[str] | None = None, timeout: float = 15.0
) -> None:
    """Create the topics the stack needs; topics that already exist are left as they are."""
    wanted = topics if topics is not None else settings.kafka_topics
    admin = admin_client(settings)
    existing = set(admin.list_topics(timeout=timeout).topics)
    missing = [name for name in wanted if name not in existing]
    if not missing:
        return
    futures = admin.create_topics(
        [NewTopic(name, num_partitions=settings.kafka_topic_partitions) for name in missing],
        operation_timeout=timeout,
        request_timeout=timeout,
    )
    for name, future in futures.items():
        try:
            future.result(timeout=timeout)
        except KafkaException as exc:
            error = exc.args[0] if exc.args else None
            # Another process may have created it between our list and create calls.
            if isinstance(error, KafkaError) and error.code() == KafkaError.TOPIC_ALREADY_EXISTS:
                continue
            raise KafkaUnavailable(f"could not create topic {name}: {exc}") from exc


async def produce_json(
    producer: Producer,
    topic: str,
    value: dict[str, Any],
    *,
    key: str | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 30.0,
) -> tuple[int, int]:
    """Produce one JSON message and wait for the broker's acknowledgement: (partition, offset)."""
    loop = asyncio.get_running_loop()
    acked: asyncio.Future[tuple[int, int]] = loop.create_future()
    producer.produce(
        topic,
        json.dumps(value, separators=(",", ":"), default=str).encode(),
        key=key.encode() if key is not None else None,
        headers=list((headers or {}).items()),
        on_delivery=_acknowledge_into(loop, acked),
    )
    # The delivery callback only fires from poll/flush; flush in a thread so the loop stays free.
    await loop.run_in_executor(None, producer.flush, timeout)
    return await asyncio.wait_for(acked, timeout)


def _acknowledge_into(
    loop: asyncio.AbstractEventLoop, acked: asyncio.Future[tuple[int, int]]
) -> Callable[[KafkaError | None, Any], None]:
    """A delivery callback (run on librdkafka's thread) that settles `acked` on the loop."""

    def on_delivery(err: KafkaError | None, msg: Any) -> None:
        if err is not None:
            loop.call_soon_threadsafe(_fail, acked, KafkaException(err))
        else:
            loop.call_soon_threadsafe(_succeed, acked, (msg.partition(), msg.offset()))

    return on_delivery


def _succeed(future: asyncio.Future[tuple[int, int]], value: tuple[int, int]) -> None:
    if not future.done():
        future.set_result(value)


def _fail(future: asyncio.Future[tuple[int, int]], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)


async def produce_many(
    producer: Producer,
    topic: str,
    messages: list[tuple[str, dict[str, Any]]],
    *,
    timeout: float = 30.0,
) -> list[tuple[int, int]]:
    """Produce (key, value) JSON messages and wait until the broker acknowledged every one;
    raises the first delivery error. One flush for the whole batch, not one per message."""
    loop = asyncio.get_running_loop()
    acks: list[asyncio.Future[tuple[int, int]]] = []
    for key, value in messages:
        acked: asyncio.Future[tuple[int, int]] = loop.create_future()
        acks.append(acked)
        producer.produce(
            topic,
            json.dumps(value, separators=(",", ":"), default=str).encode(),
            key=key.encode(),
            on_delivery=_acknowledge_into(loop, acked),
        )
    await loop.run_in_executor(None, producer.flush, timeout)
    return list(await asyncio.wait_for(asyncio.gather(*acks), timeout))


def is_fatal(error: BaseException | KafkaError | None) -> bool:
    """A failure after which the producer instance is of no further use.

    librdkafka turns some idempotence errors fatal; confluent-kafka then sometimes surfaces the
    fatal error from `flush` as a `SystemError` ("returned a result with an exception set")."""
    if isinstance(error, SystemError):
        return True
    if isinstance(error, KafkaException) and error.args:
        error = error.args[0]
    return isinstance(error, KafkaError) and (error.fatal() or error.code() == KafkaError._FATAL)


@dataclass(eq=False)
class _Slot:
    """One producer instance and what the holder knows about it."""

    producer: Producer | None = None
    failures: int = 0  # consecutive failed produce calls
    fatal: KafkaError | None = None  # set by librdkafka's error callback
    leases: int = 0  # callers using it right now
    retired_at: float | None = None
    closed: bool = False


class ProducerHolder:
    """Owns a process's producer and replaces it when it can no longer deliver.

    The producer stays idempotent (no duplicates when librdkafka retries), but an idempotent
    producer is tied to the producer id the broker gave it: a broker that lost its state (a
    restarted in-memory tansu; a cluster that expired the id) answers UnknownProducerId, and
    librdkafka 2.16 may never recover: deliveries time out forever, or the error turns fatal.
    The holder then swaps in a fresh producer (a new producer id) and closes the old one:

    - at once after a fatal error (librdkafka's error callback, or a fatal exception);
    - after `failures_to_replace` consecutive failures, if the brokers answer a metadata
      request (they are back, so the producer is the problem). While they are away, the
      producer is kept: it reconnects by itself and a fresh one would not do better.

    Callers use `lease()` (or `get()`), report each outcome with `succeeded()` or
    `replace_after_failure()`. A replaced producer is closed once no lease holds it and
    `retire_grace` seconds have passed (for callers that use `get()` without a lease).
    Thread-safe; `replace_after_failure` blocks (up to `probe_timeout`), so async callers run
    it in a thread (`produce_many` does).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        failures_to_replace: int = 2,
        probe_timeout: float = 2.0,
        retire_grace: float = 0.0,
        on_replace: Callable[[Producer], None] | None = None,
        **overrides: Any,
    ) -> None:
        self._settings = settings
        self._overrides = overrides
        self._failures_to_replace = max(1, failures_to_replace)
        self._probe_timeout = probe_timeout
        self._retire_grace = retire_grace
        self._on_replace = on_replace
        self._lock = threading.Lock()
        self._probing = False
        self._retired: list[_Slot] = []
        self.replacements = 0
        self._slot = self._new_slot()

    def _new_slot(self) -> _Slot:
        slot = _Slot()
        chained: Callable[[KafkaError], None] | None = self._overrides.get("error_cb")

        def on_error(error: KafkaError) -> None:
            if error.fatal():
                slot.fatal = error
            if chained is not None:
                chained(error)

        config = {**self._overrides, "error_cb": on_error}
        slot.producer = make_producer(self._settings, **config)
        return slot

    def get(self) -> Producer:
        """The current producer."""
        producer = self._slot.producer
        assert producer is not None
        return producer

    @contextmanager
    def lease(self) -> Iterator[Producer]:
        """The current producer, not closed before the block ends even if it is replaced."""
        with self._lock:
            slot = self._slot
            slot.leases += 1
        try:
            assert slot.producer is not None
            yield slot.producer
        finally:
            with self._lock:
                slot.leases -= 1
            self._close_if_idle(slot)

    def succeeded(self, producer: Producer) -> None:
        """Report an acknowledged produce: the producer works."""
        with self._lock:
            if self._slot.producer is producer:
                self._slot.failures = 0

    def replace_after_failure(self, producer: Producer, error: BaseException | None) -> bool:
        """Report a failed produce on `producer`; True when it was replaced by a fresh one.

        Blocks for the metadata probe (at most `probe_timeout`). A failure of a producer that
        was already replaced is ignored, so concurrent failures replace it once."""
        with self._lock:
            slot = self._slot
            if slot.producer is not producer:
                return False
            slot.failures += 1
            if self._probing:
                return False
            fatal = slot.fatal is not None or is_fatal(error)
            if not fatal and slot.failures < self._failures_to_replace:
                return False
            self._probing = True
        try:
            if not fatal and not self._brokers_answer(producer):
                return False  # still away: keep the producer, it reconnects by itself
            fresh = self._new_slot()
            with self._lock:
                self._slot = fresh
                slot.retired_at = time.monotonic()
                self._retired.append(slot)
                self.replacements += 1
        finally:
            with self._lock:
                self._probing = False
        log.warning(
            "replaced the Kafka producer after %s failed produce(s)%s: %s",
            slot.failures, " (fatal error)" if fatal else "", slot.fatal or error,
        )  # fmt: skip
        if self._on_replace is not None:
            self._on_replace(self.get())
        if self._retire_grace > 0:
            timer = threading.Timer(self._retire_grace, self._close_if_idle, args=(slot,))
            timer.daemon = True
            timer.start()
        else:
            self._close_if_idle(slot)
        return True

    def _brokers_answer(self, producer: Producer) -> bool:
        try:
            producer.list_topics(timeout=self._probe_timeout)
        except Exception:
            return False
        return True

    def _close_if_idle(self, slot: _Slot, *, force: bool = False) -> None:
        with self._lock:
            if slot.closed or slot.retired_at is None or (slot.leases and not force):
                return
            if not force and time.monotonic() - slot.retired_at < self._retire_grace:
                return
            slot.closed = True
            self._retired.remove(slot)
        if force:
            _dispose(slot.producer)
        else:
            # close() can wait on the broker threads; nobody needs to wait for it.
            threading.Thread(target=_dispose, args=(slot.producer,), daemon=True).start()

    async def produce_many(
        self, topic: str, messages: list[tuple[str, dict[str, Any]]], *, timeout: float = 30.0
    ) -> list[tuple[int, int]]:
        """`produce_many` on the current producer; any failure is reported (the producer may
        be replaced) and raised as ProduceFailed, so callers have one exception to answer."""
        with self.lease() as producer:
            try:
                acks = await produce_many(producer, topic, messages, timeout=timeout)
            except Exception as exc:
                await asyncio.to_thread(self.replace_after_failure, producer, exc)
                raise ProduceFailed(f"{type(exc).__name__}: {exc}") from exc
        self.succeeded(producer)
        return acks

    def close(self, timeout: float = 10.0) -> None:
        """Flush and close the current producer; close replaced ones still open."""
        for slot in list(self._retired):
            self._close_if_idle(slot, force=True)
        producer = self._slot.producer
        if producer is not None and not self._slot.closed:
            self._slot.closed = True
            try:
                producer.flush(timeout)
            except Exception as exc:  # a fatal producer: close it all the same
                log.warning("flushing the Kafka producer at close failed: %s", exc)
            producer.close()


def _dispose(producer: Producer | None) -> None:
    """Close a replaced producer: whatever it still holds was already answered as failed."""
    if producer is None:
        return
    try:
        producer.purge()
        producer.flush(0)
        producer.close()
    except Exception as exc:
        log.warning("closing a replaced Kafka producer failed: %s", exc)

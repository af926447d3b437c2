"""A process's Kafka producer that replaces itself when it can no longer deliver.

Split from journey/core/kafka/clients.py: the API gateway and the dead-letter producer use it.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Producer

from journey.core.config import Settings
from journey.core.kafka.clients import ProduceFailed, make_producer, produce_many

log = logging.getLogger(__name__)


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
            slot.failures,
            " (fatal error)" if fatal else "",
            slot.fatal or error,
        )
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

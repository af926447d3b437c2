"""Kafka plumbing shared by the API, the ingest consumer and `journey dev`."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from journey.core.config import Settings
from journey.core.telemetry.messages import trace_headers

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


def json_value(value: dict[str, Any]) -> bytes:
    """The bytes a JSON message is produced as (what a consumer measures and parses)."""
    return json.dumps(value, separators=(",", ":"), default=str).encode()


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
    all_headers: list[tuple[str, str | bytes | None]] = [
        *trace_headers(),
        *(headers or {}).items(),
    ]
    producer.produce(
        topic,
        json_value(value),
        key=key.encode() if key is not None else None,
        headers=all_headers,
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
    headers = trace_headers()  # the caller's trace continues in the consumer
    for key, value in messages:
        acked: asyncio.Future[tuple[int, int]] = loop.create_future()
        acks.append(acked)
        producer.produce(
            topic,
            json_value(value),
            key=key.encode(),
            headers=headers,
            on_delivery=_acknowledge_into(loop, acked),
        )
    await loop.run_in_executor(None, producer.flush, timeout)
    return list(await asyncio.wait_for(asyncio.gather(*acks), timeout))

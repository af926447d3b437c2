"""The gateway's producer is replaced when it can no longer deliver, without a restart.

An idempotent producer is tied to the producer id its broker handed out. A broker that lost
that state (a restarted in-memory tansu, see tests/chaos/test_broker_restart.py) answers
UnknownProducerId, and librdkafka never recovers: every event would answer 503 forever, or
500 once the error turns fatal. Here the same situation arises without restarting anything:
two tansu brokers behind one proxy address, the proxy switched from the first to the second,
which has the topic but never saw the producer. All real brokers, no mocks of Kafka.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from confluent_kafka import KafkaError, KafkaException
from fastapi import FastAPI

from api.auth import Role, create_token
from api.main import create_app
from journey.core.config import Settings
from journey.core.kafka.clients import ensure_topics
from journey.core.kafka.producers import ProducerHolder, is_fatal
from tests.api.test_events import events_settings, on_topic
from tests.harness.chaos_servers import TansuBroker, ThreadedProxy
from tests.harness.env import JourneyEnv
from tests.harness.ports import free_port

ATTEMPTS = 6  # the gateway's ack timeout is 10 s; two failures are enough to replace it


@pytest.fixture
def two_brokers(tmp_path: Path) -> Iterator[tuple[ThreadedProxy, TansuBroker, TansuBroker]]:
    """Two empty tansu brokers, both advertising the proxy's address."""
    proxy = ThreadedProxy("127.0.0.1", free_port())
    brokers = []
    for name in ("first", "second"):
        (tmp_path / name).mkdir()
        brokers.append(TansuBroker(tmp_path / name, advertised_port=proxy.port))
    try:
        for broker in brokers:
            broker.start()
        yield proxy, brokers[0], brokers[1]
    finally:
        proxy.close()
        for broker in brokers:
            broker.stop()


def point(proxy: ThreadedProxy, broker: TansuBroker) -> None:
    """Send every connection through the proxy to `broker` (existing ones are reset)."""
    proxy.cut()
    proxy.proxy.target_port = broker.port
    proxy.restore()


@asynccontextmanager
async def gateway(settings: Settings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        token = create_token(settings, subject="app", role=Role.operator)
        async with httpx.AsyncClient(
            transport=transport,
            base_url="http://journey",
            timeout=60,
            headers={"Authorization": f"Bearer {token}"},
        ) as client:
            yield app, client


async def test_the_same_gateway_delivers_again_on_a_broker_that_forgot_its_producer(
    journey_env: JourneyEnv, two_brokers: tuple[ThreadedProxy, TansuBroker, TansuBroker]
) -> None:
    proxy, first, second = two_brokers
    settings = events_settings(
        journey_env, kafka_bootstrap=proxy.address, kafka_ack_timeout_seconds=3
    )
    for broker in (second, first):  # each gets the topic; the proxy ends on the first
        await asyncio.to_thread(point, proxy, broker)
        await asyncio.to_thread(ensure_topics, settings, [settings.kafka_events_topic])

    async with gateway(settings) as (app, http):
        producers: ProducerHolder = app.state.producers
        response = await http.post("/api/events", json={"id": "e-0", "type": "a", "user_id": "u"})
        assert response.status_code == 202, response.text
        stale = producers.get()

        await asyncio.to_thread(point, proxy, second)
        statuses = []
        for n in range(1, ATTEMPTS + 1):
            event = {"id": f"e-{n}", "type": "a", "user_id": "u"}
            statuses.append((await http.post("/api/events", json=event)).status_code)
            if statuses[-1] == 202:
                break
        assert statuses[-1] == 202, statuses  # delivered again, by the same gateway
        assert set(statuses[:-1]) <= {503}, statuses  # never 500
        assert producers.replacements == 1
        assert producers.get() is not stale
        assert app.state.journey.producer is producers.get()  # the other routes follow

    delivered = {envelope["id"] for _, envelope in on_topic(settings, 1)}
    assert f"e-{len(statuses)}" in delivered  # the 202 is on the second broker's topic
    assert "e-0" not in delivered  # (it is on the first one's)


async def test_a_fatal_error_replaces_the_producer_at_once(
    kafka_bootstrap: str, kafka_topic: str, journey_env: JourneyEnv
) -> None:
    settings = journey_env.settings.model_copy(update={"kafka_bootstrap": kafka_bootstrap})
    holder = ProducerHolder(settings)
    try:
        old = holder.get()
        fatal = KafkaException(KafkaError(KafkaError._FATAL, "fenced", fatal=True))
        assert is_fatal(fatal) and is_fatal(SystemError("returned a result with an exception"))
        assert not is_fatal(KafkaException(KafkaError(KafkaError._MSG_TIMED_OUT)))

        assert await asyncio.to_thread(holder.replace_after_failure, old, fatal)
        assert holder.get() is not old and holder.replacements == 1
        # Reported again by a concurrent caller of the old producer: nothing more happens.
        assert not await asyncio.to_thread(holder.replace_after_failure, old, fatal)
        [(partition, offset)] = await holder.produce_many(kafka_topic, [("k", {"n": 1})])
        assert (partition, offset) == (0, 0)
    finally:
        await asyncio.to_thread(holder.close, 5)


async def test_a_producer_is_kept_while_the_brokers_are_away(journey_env: JourneyEnv) -> None:
    settings = journey_env.settings.model_copy(
        update={"kafka_bootstrap": f"127.0.0.1:{free_port()}"}
    )
    holder = ProducerHolder(settings, probe_timeout=0.5, log_level=0)
    try:
        producer = holder.get()
        timeout = KafkaException(KafkaError(KafkaError._MSG_TIMED_OUT))
        for _ in range(3):  # failures pile up, but the probe finds no broker: keep it
            assert not await asyncio.to_thread(holder.replace_after_failure, producer, timeout)
        assert holder.get() is producer and holder.replacements == 0
    finally:
        await asyncio.to_thread(holder.close, 0)

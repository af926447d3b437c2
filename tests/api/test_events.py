"""`POST /api/events` (+ batch, + the metrics alias) put validated envelopes on the events topic."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest_asyncio
from confluent_kafka import Consumer, TopicPartition
from pydantic import SecretStr

from api.auth import Role, create_token
from dsl.events import event_json_schema
from journey.core.config import Settings
from journey.core.kafka.clients import ensure_topics
from tests.api.conftest import ApiClientFactory
from tests.harness.env import JourneyEnv
from tests.harness.kafka import consumer_config
from tests.harness.ports import free_port

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schemas" / "event.schema.json"


def events_settings(journey_env: JourneyEnv, **overrides: Any) -> Settings:
    topic = f"events-{uuid.uuid4().hex[:8]}"
    settings = journey_env.settings.model_copy(
        update={"jwt_secret": SecretStr("k" * 32), "kafka_events_topic": topic, **overrides}
    )
    return settings


@pytest_asyncio.fixture
async def api(
    journey_env: JourneyEnv, api_client_for: ApiClientFactory
) -> AsyncIterator[tuple[httpx.AsyncClient, Settings]]:
    settings = events_settings(journey_env)
    ensure_topics(settings, [settings.kafka_events_topic])
    async with api_client_for(settings) as http:
        token = create_token(settings, subject="app", role=Role.operator)
        http.headers["Authorization"] = f"Bearer {token}"
        yield http, settings


def on_topic(settings: Settings, expect: int) -> list[tuple[bytes | None, dict[str, Any]]]:
    consumer = Consumer(consumer_config(settings.resolved_kafka_bootstrap, uuid.uuid4().hex))
    try:
        consumer.subscribe([settings.kafka_events_topic])
        found: list[tuple[bytes | None, dict[str, Any]]] = []
        for _ in range(40):
            for message in consumer.consume(num_messages=100, timeout=0.5):
                value = message.value()
                if message.error() is None and value is not None:
                    found.append((message.key(), json.loads(value)))
            if len(found) >= expect and consumer.assignment():
                break
        return found
    finally:
        consumer.close()


def topic_size(settings: Settings) -> int:
    consumer = Consumer(consumer_config(settings.resolved_kafka_bootstrap, uuid.uuid4().hex))
    try:
        metadata = consumer.list_topics(settings.kafka_events_topic, timeout=10)
        partitions = metadata.topics[settings.kafka_events_topic].partitions
        return sum(
            consumer.get_watermark_offsets(
                TopicPartition(settings.kafka_events_topic, p), timeout=10
            )[1]
            for p in partitions
        )
    finally:
        consumer.close()


async def test_one_event_is_acknowledged_and_keyed_by_user(
    api: tuple[httpx.AsyncClient, Settings],
) -> None:
    http, settings = api
    response = await http.post(
        "/api/events",
        json={"id": "evt-1", "type": "signup", "user_id": "ada", "properties": {"plan": "pro"}},
    )
    assert response.status_code == 202, response.text
    assert response.json() == {"ids": ["evt-1"]}
    [(key, envelope)] = on_topic(settings, 1)
    assert key == b"ada"
    assert (envelope["id"], envelope["type"], envelope["properties"]) == (
        "evt-1",
        "signup",
        {"plan": "pro"},
    )
    assert envelope["timestamp"]  # filled in when the producer gave none


async def test_a_batch_goes_out_whole_and_the_metrics_alias_works(
    api: tuple[httpx.AsyncClient, Settings],
) -> None:
    http, settings = api
    batch = {"events": [{"type": "page.viewed", "user_id": f"u{n}"} for n in range(3)]}
    response = await http.post("/api/events/batch", json=batch)
    assert response.status_code == 202, response.text
    ids = response.json()["ids"]
    alias = await http.post("/api/metrics/events", json={"type": "purchase", "user_id": "u0"})
    assert alias.status_code == 202
    ids += alias.json()["ids"]
    assert len(set(ids)) == 4
    assert sorted(envelope["id"] for _, envelope in on_topic(settings, 4)) == sorted(ids)


async def test_one_bad_event_refuses_the_batch_and_names_the_field(
    api: tuple[httpx.AsyncClient, Settings],
) -> None:
    http, settings = api
    batch = {
        "events": [
            {"type": "ok", "user_id": "u1"},
            {"type": "bad type!", "user_id": "u2"},
            {"type": "ok", "user_id": "u3", "colour": "red"},
        ]
    }
    response = await http.post("/api/events/batch", json=batch)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    paths = {error["path"] for error in response.json()["errors"]}
    assert paths == {"/events/1/type", "/events/2/colour"}
    assert topic_size(settings) == 0  # nothing was half-accepted


async def test_publishing_needs_the_operator_role(
    api: tuple[httpx.AsyncClient, Settings],
) -> None:
    http, settings = api
    viewer = create_token(settings, subject="dashboard", role=Role.viewer)
    response = await http.post(
        "/api/events",
        json={"type": "signup", "user_id": "u1"},
        headers={"Authorization": f"Bearer {viewer}"},
    )
    assert response.status_code == 403


async def test_unreachable_brokers_answer_503_to_retry(
    journey_env: JourneyEnv, api_client_for: ApiClientFactory
) -> None:
    # A short acknowledgement timeout: the 503 comes when it runs out.
    settings = events_settings(
        journey_env, kafka_bootstrap=f"127.0.0.1:{free_port()}", kafka_ack_timeout_seconds=2
    )
    async with api_client_for(settings) as http:
        token = create_token(settings, subject="app", role=Role.operator)
        response = await http.post(
            "/api/events",
            json={"type": "signup", "user_id": "u1"},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert response.headers["content-type"].startswith("application/problem+json")


def test_the_published_json_schema_is_the_envelope() -> None:
    assert json.loads(SCHEMA_FILE.read_text()) == event_json_schema()
    assert set(event_json_schema()["required"]) == {"type", "user_id"}

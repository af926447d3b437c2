"""`GET /health` reports each dependency, and names the one that is down."""

from __future__ import annotations

import pytest

from journey.core.kafka.clients import ensure_topics
from tests.api.conftest import ApiClientFactory
from tests.harness.env import JourneyEnv
from tests.harness.ports import free_port


@pytest.fixture
def topics_ready(journey_env: JourneyEnv) -> JourneyEnv:
    ensure_topics(journey_env.settings)
    return journey_env


async def test_all_dependencies_up(
    topics_ready: JourneyEnv, api_client_for: ApiClientFactory
) -> None:
    async with api_client_for(topics_ready.settings) as api:
        response = await api.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["down"] == []
    assert {name: dep["status"] for name, dep in body["dependencies"].items()} == {
        "database": "up",
        "temporal": "up",
        "kafka": "up",
    }


@pytest.mark.parametrize(
    ("setting", "down"),
    [("kafka_bootstrap", "kafka"), ("temporal_address", "temporal")],
)
async def test_a_dependency_that_does_not_answer_is_named(
    topics_ready: JourneyEnv, api_client_for: ApiClientFactory, setting: str, down: str
) -> None:
    settings = topics_ready.settings.model_copy(update={setting: f"127.0.0.1:{free_port()}"})
    async with api_client_for(settings) as api:
        response = await api.get("/health")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["down"] == [down]
    assert body["dependencies"][down]["status"] == "down"
    assert body["dependencies"][down]["detail"]


async def test_a_missing_topic_counts_as_kafka_down(
    topics_ready: JourneyEnv, api_client_for: ApiClientFactory
) -> None:
    settings = topics_ready.settings.model_copy(update={"kafka_events_topic": "never-created"})
    async with api_client_for(settings) as api:
        response = await api.get("/health")
    assert response.status_code == 503
    assert "never-created" in response.json()["dependencies"]["kafka"]["detail"]


async def test_an_unreachable_database_is_named(
    topics_ready: JourneyEnv, api_client_for: ApiClientFactory
) -> None:
    url = f"postgresql+psycopg://nobody:secret@127.0.0.1:{free_port()}/none"
    settings = topics_ready.settings.model_copy(update={"database_url": url})
    async with api_client_for(settings) as api:
        response = await api.get("/health")
    assert response.status_code == 503
    body = response.json()
    assert body["down"] == ["database"]
    assert "secret" not in response.text

"""Fixtures shared by the activity tests."""

from __future__ import annotations

from uuid import uuid4

import pytest

from journey.config import Settings
from journey.kafka import ensure_topics
from tests.harness.env import JourneyEnv


@pytest.fixture
def settings(journey_env: JourneyEnv) -> Settings:
    """Settings with a fresh emitted-events topic, so tests read only their own events."""
    topic = f"emitted-{uuid4().hex}"
    settings = journey_env.settings.model_copy(update={"kafka_emitted_topic": topic})
    ensure_topics(settings, [topic])
    return settings

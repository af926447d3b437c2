"""Fixtures shared by the activity tests."""

from __future__ import annotations

from collections.abc import Iterator
from uuid import uuid4

import pytest

from journey.core.config import Settings
from journey.core.db.engine import create_db_engine, make_session_factory
from journey.core.kafka.clients import ensure_topics
from journey.core.ledger import Ledger
from tests.harness.env import JourneyEnv


@pytest.fixture
def settings(journey_env: JourneyEnv) -> Settings:
    """Settings with a fresh emitted-events topic, so tests read only their own events."""
    topic = f"emitted-{uuid4().hex}"
    settings = journey_env.settings.model_copy(update={"kafka_emitted_topic": topic})
    ensure_topics(settings, [topic])
    return settings


@pytest.fixture
def ledger(journey_env: JourneyEnv) -> Iterator[Ledger]:
    """The effect ledger in the test's migrated database."""
    engine = create_db_engine(journey_env.settings.resolved_database_url)
    yield Ledger(make_session_factory(engine))
    engine.dispose()

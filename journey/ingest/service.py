"""`journey ingest`: the consumer process (topics, database, Temporal client, signals)."""

from __future__ import annotations

import asyncio
import logging

from journey.core.config import Settings
from journey.core.db.engine import create_db_engine, make_session_factory
from journey.core.kafka.clients import ensure_topics
from journey.core.runtime import announce_ready, stop_event_on_signals
from journey.core.temporal.client import connect_client
from journey.ingest.consumer import EventConsumer

__all__ = ["main", "run_ingest"]

log = logging.getLogger(__name__)


async def run_ingest(settings: Settings) -> None:
    stop = stop_event_on_signals()
    engine = create_db_engine(settings.resolved_database_url, echo=settings.database_echo)
    await asyncio.to_thread(ensure_topics, settings)
    # Lazy: the consumer starts while Temporal is still coming up and waits for it per event.
    client = await connect_client(settings, lazy=True)
    consumer = EventConsumer(settings, make_session_factory(engine), client)
    announce_ready("ingest", f"topic {settings.kafka_events_topic}")
    try:
        await consumer.run(stop)
    finally:
        engine.dispose()
        log.info("ingest stopped: %s", consumer.tally)


def main(settings: Settings) -> None:
    asyncio.run(run_ingest(settings))

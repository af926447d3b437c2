"""Migration 0005 on existing data, the monthly partitions (PostgreSQL), and the event dedupe.

On SQLite the partition functions are no-ops and `lifecycle_events` stays a plain table; both
databases deduplicate event ids through `ingested_events`.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic import command
from sqlalchemy import Connection, Engine, func, text
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, select

from dsl.events import EventEnvelope
from journey.core.db.engine import create_db_engine, migration_config
from journey.core.db.models import IngestedEvent, LifecycleEvent, User
from journey.ingest.records import add_event
from journey.services.metrics.partitions import (
    drop_partitions_before,
    ensure_partitions,
    is_partitioned,
    list_partitions,
)
from tests.journey.services.metrics.data import at


def where(connection: Connection, event_id: str) -> str:
    """The partition holding an event (PostgreSQL)."""
    query = text("SELECT tableoid::regclass::text FROM lifecycle_events WHERE event_id = :id")
    return str(connection.execute(query, {"id": event_id}).scalar_one())


def insert(connection: Connection, event_id: str, when: str) -> None:
    connection.execute(
        text(
            "INSERT INTO lifecycle_events (event_type, event_id, created_at) VALUES ('e', :id, :at)"
        ),
        {"id": event_id, "at": at(when)},
    )


def test_upgrade_keeps_rows_ids_and_dedupe(database_url: str) -> None:
    config = migration_config(database_url)
    command.upgrade(config, "0004")
    engine = create_db_engine(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO users (id) VALUES ('u1')"))
            for event_id, when in (("e1", "2024-03-05 10:00"), ("e2", "2025-07-31 23:59:59")):
                insert(connection, event_id, when)
            connection.execute(text("INSERT INTO lifecycle_events (event_type) VALUES ('x')"))
        command.upgrade(config, "head")
        with engine.begin() as connection:
            rows = connection.execute(
                text("SELECT id, event_id, created_at FROM lifecycle_events ORDER BY id")
            ).all()
            assert [(r[0], r[1]) for r in rows] == [(1, "e1"), (2, "e2"), (3, None)]
            assert rows[2][2] is not None  # NOT NULL now: the missing time was filled in
            claimed = connection.execute(
                text("SELECT event_id FROM ingested_events ORDER BY event_id")
            ).scalars()
            assert list(claimed) == ["e1", "e2"]
            insert(connection, "e3", "2026-01-01")
            assert connection.execute(text("SELECT max(id) FROM lifecycle_events")).scalar() == 4
            if connection.dialect.name == "postgresql":
                assert where(connection, "e1") == "lifecycle_events_2024_03"
                assert where(connection, "e2") == "lifecycle_events_2025_07"
            else:
                assert not is_partitioned(connection) and list_partitions(connection) == []
    finally:
        engine.dispose()


def test_partitions_are_created_ahead_idempotently(migrated_engine: Engine) -> None:
    with migrated_engine.begin() as connection:
        if not is_partitioned(connection):
            assert ensure_partitions(connection, now=at("2030-01-20"), months_ahead=2) == []
            assert drop_partitions_before(connection, cutoff=at("2030-03-01")) == []
            return
        insert(connection, "early", "2030-02-10")
        assert where(connection, "early") == "lifecycle_events_default"
        created = ensure_partitions(connection, now=at("2030-01-20"), months_ahead=2)
        assert created == [f"lifecycle_events_2030_0{m}" for m in (1, 2, 3)]
        assert ensure_partitions(connection, now=at("2030-01-20"), months_ahead=2) == []
        assert where(connection, "early") == "lifecycle_events_2030_02"  # moved out of default
        insert(connection, "march", "2030-03-31 23:59:59")
        insert(connection, "april", "2030-04-01 00:00")
        assert where(connection, "march") == "lifecycle_events_2030_03"
        assert where(connection, "april") == "lifecycle_events_default"

        dropped = drop_partitions_before(connection, cutoff=at("2030-03-01"))
        assert {"lifecycle_events_2030_01", "lifecycle_events_2030_02"} <= set(dropped)
        assert "lifecycle_events_2030_03" not in dropped
        remaining = set(list_partitions(connection))
        assert {"lifecycle_events_2030_03", "lifecycle_events_default"} <= remaining
        assert remaining.isdisjoint(dropped)
        left = connection.execute(text("SELECT event_id FROM lifecycle_events ORDER BY 1"))
        assert list(left.scalars()) == ["april", "march"]


def envelope(event_id: str, user_id: str = "u1") -> EventEnvelope:
    return EventEnvelope(
        id=event_id, type="signup", user_id=user_id, timestamp=datetime(2026, 1, 1, tzinfo=UTC)
    )


def test_an_event_id_is_recorded_once(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        session.add(User(id="u1"))
        session.commit()
        assert add_event(session, envelope("evt-1")) is True
        assert add_event(session, envelope("evt-1")) is False  # same transaction
        session.commit()
        assert add_event(session, envelope("evt-1", user_id="stranger")) is False
        assert add_event(session, envelope("evt-2", user_id="stranger")) is True
        session.commit()
        events = session.exec(select(LifecycleEvent).order_by(LifecycleEvent.id)).all()
        assert [(e.event_id, e.user_id) for e in events] == [("evt-1", "u1"), ("evt-2", None)]
        ids = session.exec(select(func.count()).select_from(IngestedEvent)).one()
        assert ids == 2


@pytest.mark.parametrize("repeat", [1, 2])
def test_dedupe_survives_a_rolled_back_claim(
    session_factory: sessionmaker[Session], repeat: int
) -> None:
    """A claim rolled back with its event frees the id: the redelivery records it."""
    with session_factory() as session:
        for _ in range(repeat):
            assert add_event(session, envelope("evt-9", user_id="nobody")) is True
            session.rollback()
        assert add_event(session, envelope("evt-9", user_id="nobody")) is True
        session.commit()
        assert session.exec(select(func.count()).select_from(LifecycleEvent)).one() == 1

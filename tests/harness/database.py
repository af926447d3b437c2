"""Pytest fixtures that hand tests a real, empty database: a SQLite file, and PostgreSQL.

Loaded as a plugin by tests/conftest.py. Every test that takes `database_url` (or a fixture built
on it) runs twice, once per backend, because the two must behave the same. The PostgreSQL run
needs a server: `JOURNEY_TEST_POSTGRES_URL` names one (any database on it; a fresh database is
created per test and dropped afterwards), and without it those runs are skipped, not failed.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from journey.db.engine import (
    create_db_engine,
    make_session_factory,
    normalise_database_url,
    run_migrations,
)

__all__ = [
    "BACKENDS",
    "POSTGRES_ENV",
    "database_url",
    "empty_database_url",
    "migrated_engine",
    "postgres_admin_url",
    "session_factory",
]

POSTGRES_ENV = "JOURNEY_TEST_POSTGRES_URL"
POSTGRES_SKIP_REASON = (
    f"PostgreSQL tests need {POSTGRES_ENV} "
    "(e.g. postgresql+psycopg://postgres@127.0.0.1:5432/postgres)"
)
BACKENDS = ("sqlite", "postgres")


def postgres_admin_url() -> str | None:
    """The configured PostgreSQL server, or None when PostgreSQL tests are not wanted."""
    return os.environ.get(POSTGRES_ENV) or None


@contextmanager
def empty_database_url(kind: str, tmp_path: Path) -> Iterator[str]:
    """The URL of a brand-new, empty database of `kind` ("sqlite" or "postgres").

    The PostgreSQL database is created on the configured server under a unique name and dropped
    (forcibly, in case a test leaked a connection) on exit. Skips when no server is configured.
    """
    if kind == "sqlite":
        path = tmp_path / f"journey-{uuid.uuid4().hex[:8]}.db"
        yield f"sqlite:///{path.as_posix()}"
        return
    if kind != "postgres":
        raise ValueError(f"unknown database kind {kind!r}; expected one of {BACKENDS}")
    admin_url = postgres_admin_url()
    if admin_url is None:
        pytest.skip(POSTGRES_SKIP_REASON)
    admin = normalise_database_url(admin_url)
    name = f"journey_test_{uuid.uuid4().hex}"
    admin_engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    try:
        with admin_engine.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield admin.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin_engine.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin_engine.dispose()


@pytest.fixture(params=BACKENDS, ids=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database, once on SQLite and once on PostgreSQL."""
    with empty_database_url(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def migrated_engine(database_url: str) -> Iterator[Engine]:
    """An engine on `database_url` after `alembic upgrade head`."""
    run_migrations(database_url)
    engine = create_db_engine(database_url)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def session_factory(migrated_engine: Engine) -> sessionmaker[Session]:
    """Sessions on the migrated database: `with session_factory() as session: ...`."""
    return make_session_factory(migrated_engine)

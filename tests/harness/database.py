"""Pytest fixtures that hand tests a real database: a SQLite file, and PostgreSQL.

Loaded as a plugin by tests/conftest.py. Every test that takes `database_url` (empty) or
`migrated_database_url` (or a fixture built on them) runs twice, once per backend, because the
two must behave the same. The PostgreSQL run needs a server: `JOURNEY_TEST_POSTGRES_URL` names
one (any database on it; a fresh database is created per test and dropped afterwards), and
without it those runs are skipped, not failed.

A migrated database is a copy of one migrated once per session (a file copy on SQLite,
`CREATE DATABASE ... TEMPLATE` on PostgreSQL): running every migration for each of some 600
tests cost about six minutes of the suite. tests/journey/core/db runs the migrations themselves.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, make_url, text
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from journey.core.db.engine import (
    create_db_engine,
    make_session_factory,
    normalise_database_url,
    run_migrations,
)
from tests.harness.needs import needs

__all__ = [
    "BACKENDS",
    "POSTGRES_ENV",
    "database_url",
    "empty_database_url",
    "migrated_database_url",
    "migrated_engine",
    "migrated_sqlite",
    "postgres_admin_url",
    "session_factory",
    "temporary_database_url",
]


POSTGRES_ENV = "JOURNEY_TEST_POSTGRES_URL"
POSTGRES_SKIP_REASON = needs(
    "postgres",
    f"PostgreSQL tests need {POSTGRES_ENV} "
    "(e.g. postgresql+psycopg://postgres@127.0.0.1:5432/postgres)",
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
    with temporary_database_url(kind, tmp_path, migrated=False) as url:
        yield url


@contextmanager
def temporary_database_url(kind: str, tmp_path: Path, *, migrated: bool) -> Iterator[str]:
    """A new database of `kind` for one test, empty or at the newest schema."""
    if kind == "sqlite":
        url = f"sqlite:///{(tmp_path / f'journey-{uuid.uuid4().hex[:8]}.db').as_posix()}"
        yield migrated_sqlite(url) if migrated else url
        return
    if kind != "postgres":
        raise ValueError(f"unknown database kind {kind!r}; expected one of {BACKENDS}")
    admin = _postgres_admin()
    name = f"journey_test_{uuid.uuid4().hex}"
    template = f' TEMPLATE "{_templates.postgres(admin)}"' if migrated else ""
    _on_server(admin, f'CREATE DATABASE "{name}"{template}')
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        _on_server(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def migrated_sqlite(url: str) -> str:
    """Give the SQLite file at `url` (which must not exist yet) the newest schema; returns `url`."""
    path = Path(make_url(url).database or "")
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        raise FileExistsError(f"{path} exists: a migrated copy would overwrite it")
    shutil.copyfile(_templates.sqlite(), path)
    return url


def _on_server(admin: Any, statement: str) -> None:
    """One statement outside a transaction (CREATE/DROP DATABASE refuse to run inside one)."""
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text(statement))
    finally:
        engine.dispose()


def _postgres_admin() -> Any:
    admin_url = postgres_admin_url()
    if admin_url is None:
        pytest.skip(POSTGRES_SKIP_REASON)
    return normalise_database_url(admin_url)


class _Templates:
    """One migrated database per backend, made on first use and removed when the session ends."""

    def __init__(self) -> None:
        self._sqlite: Path | None = None
        self._postgres: tuple[Any, str] | None = None

    def sqlite(self) -> Path:
        if self._sqlite is None:
            path = Path(tempfile.mkdtemp(prefix="journey-template-")) / "journey.db"
            run_migrations(f"sqlite:///{path.as_posix()}")
            self._sqlite = path
        return self._sqlite

    def postgres(self, admin: Any) -> str:
        if self._postgres is None:
            name = f"journey_template_{uuid.uuid4().hex[:12]}"
            _on_server(admin, f'CREATE DATABASE "{name}"')
            self._postgres = (admin, name)
            # Migrations connect through their own engine, closed when they return: a template
            # must have no open connection when it is copied.
            run_migrations(admin.set(database=name).render_as_string(hide_password=False))
        return self._postgres[1]

    def remove(self) -> None:
        if self._sqlite is not None:
            shutil.rmtree(self._sqlite.parent, ignore_errors=True)
            self._sqlite = None
        if self._postgres is not None:
            admin, name = self._postgres
            _on_server(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            self._postgres = None


_templates = _Templates()


@pytest.fixture(scope="session", autouse=True)
def _remove_migrated_templates() -> Iterator[None]:
    yield
    _templates.remove()


@pytest.fixture(params=BACKENDS, ids=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database, once on SQLite and once on PostgreSQL."""
    with empty_database_url(request.param, tmp_path) as url:
        yield url


@pytest.fixture(params=BACKENDS, ids=BACKENDS)
def migrated_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database at the newest schema, once on SQLite and once on PostgreSQL."""
    with temporary_database_url(request.param, tmp_path, migrated=True) as url:
        yield url


@pytest.fixture
def migrated_engine(migrated_database_url: str) -> Iterator[Engine]:
    """An engine on `migrated_database_url`."""
    engine = create_db_engine(migrated_database_url)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def session_factory(migrated_engine: Engine) -> sessionmaker[Session]:
    """Sessions on the migrated database: `with session_factory() as session: ...`."""
    return make_session_factory(migrated_engine)

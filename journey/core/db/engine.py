"""Engines, sessions and migrations for either database Journey supports.

`journey dev` runs on a SQLite file and production on PostgreSQL; everything else in Journey asks
this module for an engine or a session and never cares which one it got. The schema is only ever
created by Alembic (`run_migrations`), never by `metadata.create_all`, so every database has a
migration history to upgrade from.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, make_url, text
from sqlalchemy.engine import URL
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

# What services and activities are handed: call it to open a session (`with factory() as s:`).
SessionFactory = sessionmaker[Session]

__all__ = [
    "MIGRATIONS_DIR",
    "SessionFactory",
    "check_database",
    "create_db_engine",
    "ensure_sqlite_directory",
    "make_session_factory",
    "migration_config",
    "normalise_database_url",
    "run_migrations",
]


def normalise_database_url(url: str | URL) -> URL:
    """Route plain `postgresql://` (and Heroku-style `postgres://`) URLs to psycopg 3.

    SQLAlchemy would pick psycopg2 for a bare `postgresql://`, which Journey does not install.
    """
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def ensure_sqlite_directory(url: str | URL) -> None:
    """Create the folder of a SQLite database file; SQLite creates the file but not its folder."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return
    database = parsed.database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def _configure_sqlite_connection(dbapi_connection: Any, _connection_record: Any) -> None:
    # Foreign keys (and so ON DELETE CASCADE) are off in SQLite unless every connection asks;
    # WAL lets the API read while a worker writes; busy_timeout waits for a lock instead of
    # failing at once with "database is locked".
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=5000")
        # In WAL mode NORMAL cannot corrupt the database; it only skips an fsync per commit.
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def create_db_engine(url: str, *, echo: bool = False) -> Engine:
    """An engine for `url` with the per-backend settings Journey relies on."""
    parsed = normalise_database_url(url)
    if parsed.get_backend_name() == "sqlite":
        ensure_sqlite_directory(parsed)
        engine = create_engine(parsed, echo=echo, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _configure_sqlite_connection)
        return engine
    # Connections die when PostgreSQL restarts or a proxy drops idle ones; ping before use.
    return create_engine(parsed, echo=echo, pool_pre_ping=True)


def make_session_factory(engine: Engine) -> SessionFactory:
    """A factory of SQLModel sessions: `with factory() as session: ...`.

    Objects stay readable after commit (`expire_on_commit=False`), so an API handler can return
    what it just saved without another round trip to the database.
    """
    return sessionmaker(bind=engine, class_=Session, expire_on_commit=False)


def migration_config(url: str) -> Config:
    """An Alembic Config built in code, so migrations run from any cwd and when installed."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # Config values go through ConfigParser interpolation: a '%' (URL-encoded password) must
    # be doubled to survive.
    rendered = normalise_database_url(url).render_as_string(hide_password=False)
    config.set_main_option("sqlalchemy.url", rendered.replace("%", "%%"))
    return config


def run_migrations(url: str) -> None:
    """Bring the database at `url` up to the newest schema (`alembic upgrade head`)."""
    ensure_sqlite_directory(url)
    command.upgrade(migration_config(url), "head")


def check_database(engine: Engine) -> None:
    """Raise if the database cannot answer a trivial query; the health endpoint calls this."""
    with engine.connect() as connection:
        if connection.execute(text("SELECT 1")).scalar_one() != 1:
            raise RuntimeError("database answered SELECT 1 with something other than 1")

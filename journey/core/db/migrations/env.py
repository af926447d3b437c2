"""Alembic environment: runs Journey's migrations against SQLite or PostgreSQL.

The URL comes from the Config (`run_migrations` sets it) or else from Journey's settings, so
`alembic upgrade head` with `JOURNEY_DATABASE_URL` set migrates the same database the app uses.
"""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool
from sqlmodel import SQLModel

import journey.core.db.models  # noqa: F401 - registers every table on SQLModel.metadata
from journey.core.config import get_settings
from journey.core.db.engine import ensure_sqlite_directory, normalise_database_url

config = context.config
if config.config_file_name is not None:
    fileConfig(config.config_file_name, disable_existing_loggers=False)

# Only `alembic revision --autogenerate` reads this; upgrades run the explicit scripts.
target_metadata = SQLModel.metadata


def _database_url() -> str:
    url = config.get_main_option("sqlalchemy.url") or get_settings().resolved_database_url
    return normalise_database_url(url).render_as_string(hide_password=False)


def run_migrations_offline() -> None:
    """Emit the SQL instead of running it (`alembic upgrade head --sql`)."""
    url = _database_url()
    context.configure(
        url=url,
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=url.startswith("sqlite"),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    url = _database_url()
    ensure_sqlite_directory(url)
    # A plain engine, not create_db_engine: SQLite's foreign keys stay off while migrating,
    # because batch mode rebuilds tables by copy-drop-rename, and dropping a referenced table
    # with foreign keys on would cascade-delete the rows that point at it.
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            context.configure(
                connection=connection,
                target_metadata=target_metadata,
                render_as_batch=connection.dialect.name == "sqlite",
                compare_type=True,
            )
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()

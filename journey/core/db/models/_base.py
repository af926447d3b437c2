"""Shared building blocks of the table models: the naming convention and the common columns.

Imported before any table class is defined, because the naming convention has to be on the
metadata when constraints attach to their tables.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Uuid, column, desc, func, text
from sqlalchemy.sql.elements import UnaryExpression
from sqlmodel import Field, SQLModel

from journey.core.db.types import EmptyStageArray, JSONType, StageArray, UTCDateTime, utcnow

# Constraint names the databases would otherwise invent differ (PostgreSQL: "users_pkey",
# "users_email_key"; SQLite: none at all), so autogenerate and migrations could not address
# them. With this convention they are the same everywhere. CHECK constraints are left out on
# purpose: every one is named explicitly, with the seed's names (valid_lifecycle_stage, ...).
NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SQLModel.metadata.naming_convention = NAMING_CONVENTION


def in_list(column: str, values: Iterable[str]) -> str:
    """SQL for `column IN ('a', 'b')`, the body of the seed's CHECK constraints."""
    quoted = ", ".join("'" + value.replace("'", "''") + "'" for value in values)
    return f"{column} IN ({quoted})"


def uuid_pk() -> Any:
    """A UUID primary key generated in Python, so it is known before the INSERT."""
    return Field(default_factory=uuid.uuid4, primary_key=True, sa_type=Uuid)


def timestamp(*, on_update: bool = False) -> Any:
    """A nullable timestamptz defaulting to now: in Python for ORM inserts, NOW() for raw SQL.

    `on_update` also refreshes it on every ORM UPDATE (the `updated_at` columns).
    """
    column_kwargs: dict[str, Any] = {"server_default": func.now()}
    if on_update:
        column_kwargs["onupdate"] = utcnow
    return Field(default_factory=utcnow, sa_type=UTCDateTime, sa_column_kwargs=column_kwargs)


def json_object() -> Any:
    """A nullable JSON(B) document defaulting to {} (the seed's `JSONB DEFAULT '{}'`)."""
    return Field(
        default_factory=dict,
        sa_type=JSONType,
        sa_column_kwargs={"server_default": text("'{}'")},
    )


def stage_list() -> Any:
    """A list of lifecycle stages defaulting to empty (the seed's `VARCHAR(50)[] DEFAULT '{}'`)."""
    return Field(
        default_factory=list,
        sa_type=StageArray,
        sa_column_kwargs={"server_default": EmptyStageArray()},
    )


def descending(name: str) -> UnaryExpression[Any]:
    """`name DESC` inside an Index of `__table_args__`, before the table's columns exist."""
    return desc(column(name))

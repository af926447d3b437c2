"""Column types that mean the same thing on SQLite and PostgreSQL.

Journey runs on SQLite for `journey dev` and on PostgreSQL in production, and the schema must be
logically identical on both. Each type here picks the native PostgreSQL representation (JSONB,
arrays, timestamptz) and a portable fallback for SQLite, so models and migrations name one type.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Integer, String
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeDecorator

from dsl.stages import LIFECYCLE_STAGES, LifecycleStage

__all__ = [
    "LIFECYCLE_STAGES",
    "BigIntegerPK",
    "EmptyStageArray",
    "JSONType",
    "LifecycleStage",
    "StageArray",
    "UTCDateTime",
    "utcnow",
]

# `none_as_null`: a Python None is SQL NULL rather than the JSON literal 'null', so "no event
# data" reads the same way in SQL on both databases (`event_data IS NULL`).
JSONType = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")

# A list of lifecycle stage names: a real VARCHAR(50)[] on PostgreSQL (GIN-indexable), a JSON
# array on SQLite, which has no arrays. Python sees a list[str] either way.
StageArray = JSON().with_variant(ARRAY(String(50)), "postgresql")

# The seed's BIGSERIAL keys: BIGINT (serial) on PostgreSQL, but plain INTEGER on SQLite, where
# only an INTEGER primary key aliases the rowid and so gets generated on insert.
BigIntegerPK = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime:
    """The Python-side default of every timestamp column (the server default is NOW())."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """TIMESTAMP WITH TIME ZONE that always hands back aware UTC datetimes.

    PostgreSQL returns aware values in the session time zone; SQLite has no time zones and
    returns naive ones. Without this, code comparing timestamps works on one backend and raises
    on the other. Values are stored in UTC; a naive value is taken to be UTC already.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, _dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, _dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class EmptyStageArray(FunctionElement[Any]):
    """Server default for a `StageArray` column: '{}' (empty array) on PostgreSQL, '[]' on SQLite.

    The seed's `DEFAULT '{}'` would be an empty *object* in SQLite's JSON, so the literal has to
    differ per dialect while the column keeps one definition.
    """

    name = "empty_stage_array"
    inherit_cache = True


@compiles(EmptyStageArray)
def _empty_stage_array_json(_element: EmptyStageArray, _compiler: SQLCompiler, **_kw: Any) -> str:
    return "'[]'"


@compiles(EmptyStageArray, "postgresql")
def _empty_stage_array_pg(_element: EmptyStageArray, _compiler: SQLCompiler, **_kw: Any) -> str:
    return "'{}'"

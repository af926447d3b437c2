"""Segment conditions compiled to SQL for the database at hand: the one entry point.

The shared compiler and its helpers are in `sql`; each database's backend (`sql_postgres`,
`sql_sqlite`) builds on them, and this module picks the backend, so no module of the three
imports another that imports it back.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import and_, true

from journey.services.segments.sql import Backend, Bool, Condition, column_of
from journey.services.segments.sql_postgres import PostgresBackend
from journey.services.segments.sql_sqlite import SqliteBackend


def backend_for(dialect: str) -> Backend:
    if dialect == "postgresql":
        return PostgresBackend()
    if dialect == "sqlite":
        return SqliteBackend()
    raise ValueError(f"segments are not compiled for the {dialect!r} database")


def compile_condition(condition: Condition, *, dialect: str) -> Bool:
    """`condition` (whose fields passed journey.services.segments.rules) as a boolean over
    `users`."""
    return backend_for(dialect).condition(condition)


def membership_clause(
    *, condition: Condition | None, lifecycle_stages: Sequence[str] | None, dialect: str
) -> Bool:
    """Who is in a segment: the condition (none: everyone), within the stages if any."""
    parts = []
    if condition is not None:
        parts.append(compile_condition(condition, dialect=dialect))
    if lifecycle_stages:
        parts.append(column_of("current_lifecycle_stage").in_(list(lifecycle_stages)))
    return and_(true(), *parts)

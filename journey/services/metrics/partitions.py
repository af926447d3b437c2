"""Monthly partitions of `lifecycle_events` on PostgreSQL (SQLite keeps a plain table).

Migration 0005 makes the table `PARTITION BY RANGE (created_at)` with one partition per month,
`lifecycle_events_YYYY_MM` = [first of the month, first of the next) in UTC, and
`lifecycle_events_default` for anything else, so an insert never fails for want of a partition.
The maintenance job keeps the current month and the next few created ahead of time
(`ensure_partitions`, idempotent) and drops months wholly older than the retention
(`drop_partitions_before`). A month created after rows of it already landed in the default
partition takes those rows along (created detached, filled, then attached), because PostgreSQL
refuses to attach a range that rows in the default partition fall into.

Every function takes a connection in a transaction and does not commit; DDL is transactional
on PostgreSQL, and a transaction-scoped advisory lock keeps two maintenance runs from racing.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

from sqlalchemy import Connection, text

__all__ = [
    "DEFAULT_PARTITION",
    "PARENT",
    "drop_partitions_before",
    "ensure_partitions",
    "is_partition",
    "is_partitioned",
    "list_partitions",
    "month_bounds",
    "partition_name",
]

PARENT = "lifecycle_events"
DEFAULT_PARTITION = f"{PARENT}_default"
_MONTHLY = re.compile(rf"^{PARENT}_(\d{{4}})_(\d{{2}})$")
# pg_advisory_xact_lock key of partition maintenance ("journey-partitions" as a number).
_LOCK_KEY = 0x6A6F75726E6579


def is_partition(name: str) -> bool:
    """Whether a table name is one of the partitions (for schema comparisons that skip them)."""
    return name == DEFAULT_PARTITION or _MONTHLY.match(name) is not None


def partition_name(month: date) -> str:
    return f"{PARENT}_{month.year:04d}_{month.month:02d}"


def _add_months(month: date, months: int) -> date:
    index = month.year * 12 + month.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def month_bounds(month: date) -> tuple[datetime, datetime]:
    """[start, end) of the month `month` falls in, as aware UTC datetimes."""
    first = month.replace(day=1)
    start = datetime(first.year, first.month, 1, tzinfo=UTC)
    upper = _add_months(first, 1)
    return start, datetime(upper.year, upper.month, 1, tzinfo=UTC)


def is_partitioned(connection: Connection) -> bool:
    """True on PostgreSQL once migration 0005 partitioned the table."""
    if connection.dialect.name != "postgresql":
        return False
    query = text("SELECT count(*) FROM pg_partitioned_table WHERE partrelid = to_regclass(:parent)")
    return bool(connection.execute(query, {"parent": PARENT}).scalar_one())


def list_partitions(connection: Connection) -> list[str]:
    """The names of the partitions attached to `lifecycle_events`, sorted."""
    if not is_partitioned(connection):
        return []
    query = text(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = to_regclass(:parent) ORDER BY c.relname"
    )
    return list(connection.execute(query, {"parent": PARENT}).scalars())


def _literal(moment: datetime) -> str:
    """A timestamptz literal for DDL (partition bounds take no bind parameters)."""
    return "'" + moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S+00") + "'"


def _create_month(connection: Connection, month: date, *, with_default: bool) -> None:
    name = partition_name(month)
    start, end = month_bounds(month)
    lower, upper = _literal(start), _literal(end)
    connection.exec_driver_sql(f"CREATE TABLE {name} (LIKE {PARENT} INCLUDING DEFAULTS)")
    if with_default:
        connection.exec_driver_sql(
            f"WITH moved AS (DELETE FROM {DEFAULT_PARTITION} "
            f"WHERE created_at >= {lower} AND created_at < {upper} RETURNING *) "
            f"INSERT INTO {name} SELECT * FROM moved"
        )
    connection.exec_driver_sql(
        f"ALTER TABLE {PARENT} ATTACH PARTITION {name} FOR VALUES FROM ({lower}) TO ({upper})"
    )


def ensure_partitions(connection: Connection, *, now: datetime, months_ahead: int) -> list[str]:
    """Create the partitions of the month of `now` and the `months_ahead` after it that do not
    exist yet; -> the names created (none on SQLite or when all exist)."""
    if not is_partitioned(connection):
        return []
    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
    existing = set(list_partitions(connection))
    current = now.astimezone(UTC).date().replace(day=1)
    created = []
    for offset in range(months_ahead + 1):
        month = _add_months(current, offset)
        if partition_name(month) not in existing:
            _create_month(connection, month, with_default=DEFAULT_PARTITION in existing)
            created.append(partition_name(month))
    return created


def drop_partitions_before(connection: Connection, *, cutoff: datetime) -> list[str]:
    """Drop the monthly partitions whose whole month is older than `cutoff`; -> their names.
    Rows of the month `cutoff` falls in (and of the default partition) are left for the
    batched purge."""
    if not is_partitioned(connection):
        return []
    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
    dropped = []
    for name in list_partitions(connection):
        match = _MONTHLY.match(name)
        if match is None:
            continue
        _, end = month_bounds(date(int(match[1]), int(match[2]), 1))
        if end <= cutoff:
            connection.exec_driver_sql(f"DROP TABLE {name}")
            dropped.append(name)
    return dropped

"""Metrics, retention and partitioning: event-id dedupe table, per-node run outcomes, goal
results, purge indexes, and (PostgreSQL only) lifecycle_events partitioned by month.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22

On PostgreSQL `lifecycle_events` becomes `PARTITION BY RANGE (created_at)`: its keys must then
contain `created_at`, so the primary key is (id, created_at) and the unique event-id index
gives way to `ingested_events`, which takes over the dedupe on both databases. Existing rows
are copied into monthly partitions (one per month that has rows, the current month and the
next three) plus a default partition; the id sequence is kept. SQLite keeps a plain table.
Frozen like 0001: names and types are spelled here, not imported from the models.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)
EVENTS = "lifecycle_events"
MONTHS_AHEAD = 3
NOT_NULL_EXECUTION = "workflow_execution_id IS NOT NULL"
COLUMNS = (
    "id, event_type, user_id, workflow_execution_id, lifecycle_stage, event_data, "
    "created_at, event_id"
)
# lifecycle_events' indexes before this revision: (name, columns, unique).
OLD_EVENT_INDEXES = (
    ("idx_lifecycle_events_user", ["user_id", "created_at DESC"], False),
    ("idx_lifecycle_events_type", ["event_type", "created_at DESC"], False),
    ("idx_lifecycle_events_stage", ["lifecycle_stage", "created_at DESC"], False),
    ("idx_lifecycle_events_created", ["created_at DESC"], False),
    ("uq_lifecycle_events_event_id", ["event_id"], True),
)
NEW_EVENT_INDEXES = (*OLD_EVENT_INDEXES[:4], ("idx_lifecycle_events_event_id", ["event_id"], False))


def _postgres() -> bool:
    return op.get_context().dialect.name == "postgresql"


def _column(spec: str) -> str | sa.TextClause:
    return sa.text(spec) if " " in spec else spec


def _create_event_indexes(indexes: Sequence[tuple[str, list[str], bool]]) -> None:
    for name, columns, unique in indexes:
        op.create_index(name, EVENTS, [_column(c) for c in columns], unique=unique)


def _partial_execution_index(name: str, table: str) -> None:
    where = sa.text(NOT_NULL_EXECUTION)
    op.create_index(
        name, table, ["workflow_execution_id"], postgresql_where=where, sqlite_where=where
    )


# ---- PostgreSQL: swapping the table for a partitioned one (and back) -------------------------


def _next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def _create_month(month: date) -> None:
    lower, upper = (
        f"{month.isoformat()} 00:00:00+00",
        f"{_next_month(month).isoformat()} 00:00:00+00",
    )
    op.execute(
        f"CREATE TABLE {EVENTS}_{month.year:04d}_{month.month:02d} PARTITION OF {EVENTS} "
        f"FOR VALUES FROM ('{lower}') TO ('{upper}')"
    )


def _months_to_create(old_table: str) -> list[date]:
    """Every month with rows in `old_table`, the current month and the next MONTHS_AHEAD."""
    rows = op.get_bind().exec_driver_sql(
        "SELECT DISTINCT date_trunc('month', created_at AT TIME ZONE 'UTC')::date "
        f"FROM {old_table} WHERE created_at IS NOT NULL "
        "UNION SELECT date_trunc('month', now() AT TIME ZONE 'UTC')::date"
    )
    months = {row[0] for row in rows}
    current = max(months)
    for _ in range(MONTHS_AHEAD):
        current = _next_month(current)
        months.add(current)
    return sorted(months)


def _set_aside(name: str, indexes: Sequence[tuple[str, list[str], bool]]) -> None:
    """Rename the table (and its primary key, whose index name is schema-wide) out of the way,
    drop its other indexes, and detach the id sequence so dropping the table keeps it."""
    op.execute(f"ALTER TABLE {EVENTS} RENAME TO {name}")
    op.execute(f"ALTER TABLE {name} RENAME CONSTRAINT pk_{EVENTS} TO pk_{name}")
    for index, _, _ in indexes:
        op.execute(f"DROP INDEX IF EXISTS {index}")
    op.execute(f"ALTER SEQUENCE {EVENTS}_id_seq OWNED BY NONE")


def _create_events_table(*, partitioned: bool) -> None:
    key = "id, created_at" if partitioned else "id"
    op.execute(
        f"""
        CREATE TABLE {EVENTS} (
            id BIGINT NOT NULL DEFAULT nextval('{EVENTS}_id_seq'),
            event_type VARCHAR(100) NOT NULL,
            user_id VARCHAR(255),
            workflow_execution_id UUID,
            lifecycle_stage VARCHAR(50),
            event_data JSONB,
            created_at TIMESTAMP WITH TIME ZONE {"NOT NULL" if partitioned else ""} DEFAULT now(),
            event_id VARCHAR(255),
            CONSTRAINT pk_{EVENTS} PRIMARY KEY ({key}),
            CONSTRAINT fk_{EVENTS}_user_id_users FOREIGN KEY (user_id) REFERENCES users (id),
            CONSTRAINT fk_{EVENTS}_workflow_execution_id_workflow_executions
                FOREIGN KEY (workflow_execution_id) REFERENCES workflow_executions (id)
        ) {"PARTITION BY RANGE (created_at)" if partitioned else ""}
        """
    )
    op.execute(f"ALTER SEQUENCE {EVENTS}_id_seq OWNED BY {EVENTS}.id")


def _partition_events() -> None:
    old = f"{EVENTS}_unpartitioned"
    _set_aside(old, OLD_EVENT_INDEXES)
    _create_events_table(partitioned=True)
    for month in _months_to_create(old):
        _create_month(month)
    op.execute(f"CREATE TABLE {EVENTS}_default PARTITION OF {EVENTS} DEFAULT")
    values = COLUMNS.replace("created_at", "coalesce(created_at, now())")
    op.execute(f"INSERT INTO {EVENTS} ({COLUMNS}) SELECT {values} FROM {old}")
    op.execute(f"DROP TABLE {old}")
    _create_event_indexes(NEW_EVENT_INDEXES)


def _unpartition_events() -> None:
    old = f"{EVENTS}_partitioned"
    _set_aside(old, NEW_EVENT_INDEXES)
    _create_events_table(partitioned=False)
    op.execute(f"INSERT INTO {EVENTS} ({COLUMNS}) SELECT {COLUMNS} FROM {old}")
    op.execute(f"DROP TABLE {old}")  # and its partitions
    _create_event_indexes(OLD_EVENT_INDEXES)


# ---- SQLite: NOT NULL needs a table rebuild, which would lose DESC on the indexes ------------


def _sqlite_created_at(
    *,
    nullable: bool,
    before: Sequence[tuple[str, list[str], bool]],
    after: Sequence[tuple[str, list[str], bool]],
) -> None:
    for name, _, _ in before:
        op.drop_index(name, table_name=EVENTS)
    with op.batch_alter_table(EVENTS) as batch:
        batch.alter_column(
            "created_at",
            existing_type=TIMESTAMP,
            existing_server_default=sa.func.now(),
            nullable=nullable,
        )
    _create_event_indexes(after)


# ---- the revision ------------------------------------------------------------------------------


def upgrade() -> None:
    op.create_table(
        "ingested_events",
        sa.Column("event_id", sa.String(255), nullable=False),
        sa.Column("received_at", TIMESTAMP, server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name="pk_ingested_events"),
    )
    op.create_index("idx_ingested_events_received", "ingested_events", ["received_at"])
    op.execute(
        "INSERT INTO ingested_events (event_id, received_at) "
        f"SELECT event_id, coalesce(min(created_at), CURRENT_TIMESTAMP) FROM {EVENTS} "
        "WHERE event_id IS NOT NULL GROUP BY event_id"
    )

    op.add_column("workflow_executions", sa.Column("goal_reached", sa.Boolean(), nullable=True))
    op.create_table(
        "workflow_execution_nodes",
        sa.Column("execution_id", sa.Uuid(), nullable=False),
        sa.Column("node_id", sa.String(255), nullable=False),
        sa.Column("node_type", sa.String(50), nullable=False),
        sa.Column("entered", sa.Integer(), nullable=False),
        sa.Column("completed", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("variant", sa.String(255), nullable=True),
        sa.PrimaryKeyConstraint("execution_id", "node_id", name="pk_workflow_execution_nodes"),
        sa.ForeignKeyConstraint(
            ["execution_id"],
            ["workflow_executions.id"],
            name="fk_workflow_execution_nodes_execution_id_workflow_executions",
            ondelete="CASCADE",
        ),
    )
    _partial_execution_index("idx_trigger_executions_execution", "trigger_executions")

    if _postgres():
        _partition_events()
    else:
        op.execute(f"UPDATE {EVENTS} SET created_at = CURRENT_TIMESTAMP WHERE created_at IS NULL")
        _sqlite_created_at(nullable=False, before=OLD_EVENT_INDEXES, after=NEW_EVENT_INDEXES)
    _partial_execution_index("idx_lifecycle_events_execution", EVENTS)


def downgrade() -> None:
    op.drop_index("idx_lifecycle_events_execution", table_name=EVENTS)
    if _postgres():
        _unpartition_events()
    else:
        _sqlite_created_at(nullable=True, before=NEW_EVENT_INDEXES, after=OLD_EVENT_INDEXES)
    op.drop_index("idx_trigger_executions_execution", table_name="trigger_executions")
    op.drop_table("workflow_execution_nodes")
    if _postgres():
        op.drop_column("workflow_executions", "goal_reached")
    else:
        # Dropping a column rebuilds the table in SQLite; its DESC indexes go and come back.
        indexes = (
            ("idx_executions_workflow", ["workflow_id", "started_at DESC"], False),
            ("idx_executions_user", ["user_id", "started_at DESC"], False),
            ("idx_executions_status", ["status", "started_at DESC"], False),
            ("uq_executions_idempotency", ["workflow_id", "idempotency_key"], True),
        )
        for name, _, _ in indexes:
            op.drop_index(name, table_name="workflow_executions")
        with op.batch_alter_table("workflow_executions") as batch:
            batch.drop_column("goal_reached")
        for name, columns, unique in indexes:
            op.create_index(
                name, "workflow_executions", [_column(c) for c in columns], unique=unique
            )
    op.drop_index("idx_ingested_events_received", table_name="ingested_events")
    op.drop_table("ingested_events")

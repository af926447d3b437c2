"""Kafka triggers: rule keys and re-entry policy, decisions per event, event ids.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    # Plain columns and indexes only: SQLite adds them without rebuilding a table.
    op.add_column("triggers", sa.Column("description", sa.Text(), nullable=True))
    for name, size, default in (
        ("dedupe_key", 255, "event.id"),
        ("reentry", 20, "always"),
        ("user_id_path", 255, "event.user_id"),
    ):
        op.add_column(
            "triggers",
            sa.Column(name, sa.String(size), server_default=default, nullable=False),
        )
    op.add_column("triggers", sa.Column("reentry_period", sa.String(50), nullable=True))
    op.add_column(
        "triggers",
        sa.Column("create_profile", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    for name, column_type in (
        ("event_id", sa.String(255)),
        ("event_at", TIMESTAMP),
        ("dedupe_key", sa.String(255)),
        ("decision", sa.String(20)),
        ("reason", sa.Text()),
        ("temporal_workflow_id", sa.String(255)),
    ):
        op.add_column("trigger_executions", sa.Column(name, column_type, nullable=True))
    op.create_index(
        "uq_trigger_executions_event",
        "trigger_executions",
        ["trigger_id", "event_id"],
        unique=True,
    )
    op.create_index(
        "idx_trigger_executions_dedupe", "trigger_executions", ["trigger_id", "dedupe_key"]
    )
    op.add_column("lifecycle_events", sa.Column("event_id", sa.String(255), nullable=True))
    op.create_index("uq_lifecycle_events_event_id", "lifecycle_events", ["event_id"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_lifecycle_events_event_id", table_name="lifecycle_events")
    op.drop_index("idx_trigger_executions_dedupe", table_name="trigger_executions")
    op.drop_index("uq_trigger_executions_event", table_name="trigger_executions")
    with op.batch_alter_table("lifecycle_events") as batch:
        batch.drop_column("event_id")
    with op.batch_alter_table("trigger_executions") as batch:
        for name in (
            "event_id",
            "event_at",
            "dedupe_key",
            "decision",
            "reason",
            "temporal_workflow_id",
        ):
            batch.drop_column(name)
    with op.batch_alter_table("triggers") as batch:
        for name in (
            "description",
            "dedupe_key",
            "reentry",
            "user_id_path",
            "reentry_period",
            "create_profile",
        ):
            batch.drop_column(name)

"""The effect ledger: `deliveries`, one row per side effect of a journey action.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")
KINDS = ("email", "webhook", "update_attributes", "lifecycle_transition", "emit_event")
OUTCOMES = ("delivered", "suppressed", "noop")


def _in(column: str, values: Sequence[str]) -> str:
    return f"{column} IN ({', '.join(repr(value) for value in values)})"


def upgrade() -> None:
    op.create_table(
        "deliveries",
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(50), nullable=False),
        sa.Column("outcome", sa.String(50), nullable=False),
        sa.Column("result", JSON, nullable=True),
        sa.Column("workflow_id", sa.String(255), nullable=True),
        sa.Column("run_id", sa.String(64), nullable=True),
        sa.Column("node_id", sa.String(100), nullable=True),
        sa.Column("user_id", sa.String(255), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=True
        ),
        sa.PrimaryKeyConstraint("key", name="pk_deliveries"),
        sa.CheckConstraint(_in("kind", KINDS), name="valid_delivery_kind"),
        sa.CheckConstraint(_in("outcome", OUTCOMES), name="valid_delivery_outcome"),
    )
    op.create_index("idx_deliveries_user", "deliveries", ["user_id", sa.text("created_at DESC")])
    op.create_index("idx_deliveries_workflow", "deliveries", ["workflow_id"])


def downgrade() -> None:
    op.drop_index("idx_deliveries_workflow", table_name="deliveries")
    op.drop_index("idx_deliveries_user", table_name="deliveries")
    op.drop_table("deliveries")

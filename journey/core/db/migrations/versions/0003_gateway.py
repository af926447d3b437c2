"""REST gateway: immutable journey versions, start idempotency keys, the audit log.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")
BIGINT_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIMESTAMP = sa.DateTime(timezone=True)


def _created_at() -> sa.Column[object]:
    return sa.Column("created_at", TIMESTAMP, server_default=sa.func.now(), nullable=True)


def upgrade() -> None:
    op.create_table(
        "workflow_versions",
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("workflow_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.String(50), nullable=False),
        sa.Column("definition", JSON, nullable=False),
        sa.Column("created_by", sa.String(255), nullable=True),
        _created_at(),
        sa.PrimaryKeyConstraint("id", name="pk_workflow_versions"),
        sa.ForeignKeyConstraint(
            ["workflow_id"],
            ["workflows.id"],
            ondelete="CASCADE",
            name="fk_workflow_versions_workflow_id_workflows",
        ),
        sa.UniqueConstraint("workflow_id", "version", name="uq_workflow_versions_version"),
    )
    op.create_index(
        "idx_workflow_versions_workflow",
        "workflow_versions",
        ["workflow_id", sa.text("created_at DESC")],
    )
    op.create_table(
        "audit_log",
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("action", sa.String(255), nullable=False),
        sa.Column("resource_type", sa.String(50), nullable=True),
        sa.Column("resource_id", sa.String(255), nullable=True),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("details", JSON, nullable=True),
        _created_at(),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    op.create_index("idx_audit_log_created", "audit_log", [sa.text("created_at DESC")])
    op.create_index("idx_audit_log_actor", "audit_log", ["actor", sa.text("created_at DESC")])
    # A plain column and a unique index: SQLite adds both without rebuilding the table.
    op.add_column(
        "workflow_executions", sa.Column("idempotency_key", sa.String(255), nullable=True)
    )
    op.create_index(
        "uq_executions_idempotency",
        "workflow_executions",
        ["workflow_id", "idempotency_key"],
        unique=True,
    )


def downgrade() -> None:
    op.drop_index("uq_executions_idempotency", table_name="workflow_executions")
    with op.batch_alter_table("workflow_executions") as batch:
        batch.drop_column("idempotency_key")
    op.drop_index("idx_audit_log_actor", table_name="audit_log")
    op.drop_index("idx_audit_log_created", table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_index("idx_workflow_versions_workflow", table_name="workflow_versions")
    op.drop_table("workflow_versions")

"""Idempotency keys remember their request: `workflow_executions.request_fingerprint`.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04

A start repeated with the same `Idempotency-Key` returns the earlier run only when it is the
same request (body, journey, caller); another request under the key is refused with 422.
Existing rows keep NULL, which matches no request.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# workflow_executions' indexes, which SQLite's table rebuild (drop column) would lose.
EXECUTION_INDEXES = (
    ("idx_executions_workflow", ["workflow_id", "started_at DESC"], False),
    ("idx_executions_user", ["user_id", "started_at DESC"], False),
    ("idx_executions_status", ["status", "started_at DESC"], False),
    ("uq_executions_idempotency", ["workflow_id", "idempotency_key"], True),
)


def _column(spec: str) -> str | sa.TextClause:
    return sa.text(spec) if " " in spec else spec


def upgrade() -> None:
    # A plain nullable column: SQLite adds it without rebuilding the table.
    op.add_column(
        "workflow_executions", sa.Column("request_fingerprint", sa.String(64), nullable=True)
    )


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.drop_column("workflow_executions", "request_fingerprint")
        return
    # Dropping a column rebuilds the table in SQLite; its DESC indexes go and come back.
    for name, _, _ in EXECUTION_INDEXES:
        op.drop_index(name, table_name="workflow_executions")
    with op.batch_alter_table("workflow_executions") as batch:
        batch.drop_column("request_fingerprint")
    for name, columns, unique in EXECUTION_INDEXES:
        op.create_index(name, "workflow_executions", [_column(c) for c in columns], unique=unique)

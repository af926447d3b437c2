"""Tables behind the REST gateway: immutable journey versions and the audit log."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, String, UniqueConstraint, Uuid
from sqlmodel import Field, SQLModel

from journey.core.db.models._base import descending, timestamp
from journey.core.db.types import BigIntegerPK, JSONType


class WorkflowVersion(SQLModel, table=True):
    """Every version a journey ever had, immutable: runs keep the version they started with,
    and `workflows.version` / `workflows.definition` mirror the newest one."""

    __tablename__ = "workflow_versions"
    __table_args__ = (
        UniqueConstraint("workflow_id", "version", name="uq_workflow_versions_version"),
        Index("idx_workflow_versions_workflow", "workflow_id", descending("created_at")),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigIntegerPK)
    workflow_id: uuid.UUID = Field(foreign_key="workflows.id", ondelete="CASCADE", sa_type=Uuid)
    version: str = Field(sa_type=String(50))
    definition: dict[str, Any] = Field(sa_type=JSONType)
    created_by: str | None = Field(default=None, sa_type=String(255))
    created_at: datetime | None = timestamp()


class AuditEntry(SQLModel, table=True):
    """Who changed what, when: one row per mutating API call (readable by admins)."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("idx_audit_log_created", descending("created_at")),
        Index("idx_audit_log_actor", "actor", descending("created_at")),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigIntegerPK)
    actor: str = Field(sa_type=String(255))
    role: str = Field(sa_type=String(20))
    action: str = Field(sa_type=String(255))  # e.g. "POST /api/workflows/{id}/start"
    resource_type: str | None = Field(default=None, sa_type=String(50))
    resource_id: str | None = Field(default=None, sa_type=String(255))
    status_code: int = Field(sa_type=Integer)
    details: dict[str, Any] | None = Field(default=None, sa_type=JSONType)
    created_at: datetime | None = timestamp()

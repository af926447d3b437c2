"""The lifecycle audit log and the daily metric roll-ups reported from it."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Date, Index, Numeric, String, UniqueConstraint, Uuid, func, text
from sqlmodel import Field, SQLModel

from journey.core.db.models._base import descending, json_object
from journey.core.db.types import BigIntegerPK, JSONType, UTCDateTime, utcnow


class LifecycleEvent(SQLModel, table=True):
    """Something that happened to a user or in a run; append-only audit trail."""

    __tablename__ = "lifecycle_events"
    __table_args__ = (
        Index("idx_lifecycle_events_user", "user_id", descending("created_at")),
        Index("idx_lifecycle_events_type", "event_type", descending("created_at")),
        Index("idx_lifecycle_events_stage", "lifecycle_stage", descending("created_at")),
        Index("idx_lifecycle_events_created", descending("created_at")),
        # Migration 0005: looking events up by envelope id. Not unique: on PostgreSQL the
        # table is partitioned by month, and unique indexes would have to include created_at;
        # dedupe is `ingested_events` (below).
        Index("idx_lifecycle_events_event_id", "event_id"),
        # Migration 0005: the retention purge of workflow_executions clears these references.
        Index(
            "idx_lifecycle_events_execution",
            "workflow_execution_id",
            postgresql_where=text("workflow_execution_id IS NOT NULL"),
            sqlite_where=text("workflow_execution_id IS NOT NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigIntegerPK)
    event_type: str = Field(sa_type=String(100))
    user_id: str | None = Field(default=None, foreign_key="users.id", sa_type=String(255))
    workflow_execution_id: uuid.UUID | None = Field(
        default=None, foreign_key="workflow_executions.id", sa_type=Uuid
    )
    lifecycle_stage: str | None = Field(default=None, sa_type=String(50))
    event_data: dict[str, Any] | None = Field(default=None, sa_type=JSONType)
    # NOT NULL since migration 0005: the partition key on PostgreSQL.
    created_at: datetime | None = Field(
        default_factory=utcnow,
        nullable=False,
        sa_type=UTCDateTime,
        sa_column_kwargs={"server_default": func.now()},
    )
    event_id: str | None = Field(default=None, sa_type=String(255))


class IngestedEvent(SQLModel, table=True):
    """The id of every event envelope recorded in `lifecycle_events` (migration 0005).

    The consumer inserts here first (ON CONFLICT DO NOTHING) and records the event only when
    the id is new, so a redelivered envelope is recorded once on both databases, although the
    partitioned `lifecycle_events` cannot carry a unique index on `event_id` alone. Purged
    with the retention of `lifecycle_events`.
    """

    __tablename__ = "ingested_events"
    __table_args__ = (Index("idx_ingested_events_received", "received_at"),)

    event_id: str = Field(primary_key=True, sa_type=String(255))
    received_at: datetime | None = Field(
        default_factory=utcnow,
        nullable=False,
        sa_type=UTCDateTime,
        sa_column_kwargs={"server_default": func.now()},
    )


class DailyMetric(SQLModel, table=True):
    """One metric's value for one day, stage and set of dimensions."""

    __tablename__ = "metrics_daily"
    __table_args__ = (
        UniqueConstraint(
            "metric_date",
            "lifecycle_stage",
            "metric_name",
            "dimensions",
            name="uq_metrics_daily_key",
        ),
        Index("idx_metrics_date_stage", descending("metric_date"), "lifecycle_stage"),
        Index("idx_metrics_name", "metric_name", descending("metric_date")),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigIntegerPK)
    metric_date: date = Field(sa_type=Date)
    lifecycle_stage: str = Field(sa_type=String(50))
    metric_name: str = Field(sa_type=String(100))
    metric_value: Decimal = Field(sa_type=Numeric)
    dimensions: dict[str, Any] | None = json_object()

"""The retention purge: rows older than each table's retention go, in batches.

Per the schema document (settings in journey/core/config.py, days):

| table | kept | age of a row |
|---|---|---|
| trigger_executions | 90 | `executed_at` |
| workflow_executions | 365 | `completed_at`, finished runs only (open runs are never purged) |
| lifecycle_events | 730 | `created_at` |
| ingested_events | 730 (as lifecycle_events) | `received_at` |
| metrics_daily | 1095 | `metric_date` |
| user_lifecycle_history | forever | — |

`purge_batch` deletes at most `batch_size` of the oldest-expired rows of one table in the
caller's transaction; the activity commits after each. Before a batch of workflow_executions
goes, the rows that still point at them (`trigger_executions`, `lifecycle_events`) lose the
reference (the per-node rows cascade). On PostgreSQL, lifecycle_events first loses whole
monthly partitions (`partitions.drop_partitions_before`); the batches then trim the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, SQLModel, col

from journey.contracts.maintenance import PurgeTable
from journey.core.config import Settings
from journey.core.db.models import (
    DailyMetric,
    IngestedEvent,
    LifecycleEvent,
    TriggerExecution,
    WorkflowExecution,
)

__all__ = ["RETENTION_ORDER", "Retention", "policies", "purge_batch"]

# References before what they reference; the order the maintenance job purges in.
RETENTION_ORDER: tuple[PurgeTable, ...] = (
    "trigger_executions",
    "workflow_executions",
    "lifecycle_events",
    "ingested_events",
    "metrics_daily",
)


@dataclass(frozen=True)
class Retention:
    table: PurgeTable
    days: int


def policies(settings: Settings) -> list[Retention]:
    days = {
        "trigger_executions": settings.retention_trigger_executions_days,
        "workflow_executions": settings.retention_workflow_executions_days,
        "lifecycle_events": settings.retention_lifecycle_events_days,
        "ingested_events": settings.retention_lifecycle_events_days,
        "metrics_daily": settings.retention_metrics_daily_days,
    }
    return [Retention(table=table, days=days[table]) for table in RETENTION_ORDER]


def _expired(
    table: PurgeTable, cutoff: datetime
) -> tuple[type[SQLModel], Any, ColumnElement[bool]]:
    """(model, key column, condition) of the rows of `table` older than `cutoff`."""
    if table == "trigger_executions":
        return (
            TriggerExecution,
            col(TriggerExecution.id),
            col(TriggerExecution.executed_at) < cutoff,
        )
    if table == "workflow_executions":
        finished = col(WorkflowExecution.status).in_(("completed", "failed", "cancelled"))
        old = col(WorkflowExecution.completed_at) < cutoff
        return WorkflowExecution, col(WorkflowExecution.id), finished & old
    if table == "lifecycle_events":
        return LifecycleEvent, col(LifecycleEvent.id), col(LifecycleEvent.created_at) < cutoff
    if table == "ingested_events":
        return IngestedEvent, col(IngestedEvent.event_id), col(IngestedEvent.received_at) < cutoff
    return DailyMetric, col(DailyMetric.id), col(DailyMetric.metric_date) < cutoff.date()


def purge_batch(session: Session, *, table: PurgeTable, cutoff: datetime, batch_size: int) -> int:
    """Delete up to `batch_size` expired rows of `table` (not committed); -> rows deleted."""
    model, key, condition = _expired(table, cutoff)
    keys = list(session.scalars(select(key).where(condition).limit(batch_size)).all())
    if not keys:
        return 0
    if table == "workflow_executions":
        for referring in (TriggerExecution, LifecycleEvent):
            reference = col(referring.workflow_execution_id)
            session.execute(
                update(referring).where(reference.in_(keys)).values(workflow_execution_id=None)
            )
    # The condition again: lifecycle_events is pruned to the expired partitions by it.
    result = session.execute(delete(model).where(condition, key.in_(keys)))
    return int(result.rowcount)  # type: ignore[attr-defined]

"""Inputs and results of the maintenance workflows' activities: the metrics rollup,
partitions and retention, and the dev stack's end-to-end check."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

# ---- metrics rollup and maintenance (workflows/maintenance.py, activities/metrics.py) ---------

ROLLUP_METRICS_DAY = "journey.rollup_metrics_day"
ENSURE_PARTITIONS = "journey.ensure_partitions"
PURGE_EXPIRED = "journey.purge_expired"

# The tables the retention purge trims, in the order it trims them (references first).
PurgeTable = Literal[
    "trigger_executions",
    "workflow_executions",
    "lifecycle_events",
    "ingested_events",
    "metrics_daily",
]


class RollupDayInput(BaseModel):
    day: date


class RollupDayResult(BaseModel):
    day: date
    rows: int


class EnsurePartitionsInput(BaseModel):
    now: datetime
    months_ahead: int = Field(ge=0)


class PurgeInput(BaseModel):
    """Delete `table`'s rows older than `cutoff`, `batch_size` rows per transaction, at most
    `max_batches` batches per call (the workflow calls again until `done`)."""

    table: PurgeTable
    cutoff: datetime
    batch_size: int = Field(gt=0)
    max_batches: int = Field(default=100, gt=0)


class PurgeResult(BaseModel):
    table: PurgeTable
    deleted: int
    done: bool
    dropped_partitions: list[str] = Field(default_factory=list)


# ---- stack check (journey dev --smoke) --------------------------------------------------------


class StackCheckInput(BaseModel):
    """Asks the worker to prove it can reach the database on behalf of a workflow."""

    check_id: str
    requested_by: str = "journey dev --smoke"


class StackCheckResult(BaseModel):
    check_id: str
    audit_row_id: int
    attempt: int

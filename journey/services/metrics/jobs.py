"""The scheduled jobs of the metrics package (listed in worker.SCHEDULED_JOBS): the daily rollup
and the daily maintenance (partitions ahead, retention purge). Both run shortly after midnight
UTC; their inputs come from the settings."""

from __future__ import annotations

from datetime import timedelta

from journey.core.config import Settings
from journey.core.temporal.schedules import ScheduledJob
from journey.services.metrics.retention import policies
from workflows.maintenance import (
    MAINTENANCE_WORKFLOW,
    ROLLUP_WORKFLOW,
    MaintenanceInput,
    MetricsRollupInput,
    RetentionDays,
)

__all__ = ["MAINTENANCE_JOB", "ROLLUP_JOB", "maintenance_input", "rollup_input"]


def rollup_input(settings: Settings) -> MetricsRollupInput:
    return MetricsRollupInput(days=settings.metrics_rollup_days)


def maintenance_input(settings: Settings) -> MaintenanceInput:
    return MaintenanceInput(
        months_ahead=settings.partition_months_ahead,
        batch_size=settings.retention_batch_size,
        retention=[RetentionDays(table=p.table, days=p.days) for p in policies(settings)],
    )


ROLLUP_JOB = ScheduledJob(
    name="metrics-rollup",
    workflow=ROLLUP_WORKFLOW,
    every=timedelta(days=1),
    offset=timedelta(minutes=15),
    make_input=rollup_input,
)
MAINTENANCE_JOB = ScheduledJob(
    name="maintenance",
    workflow=MAINTENANCE_WORKFLOW,
    every=timedelta(days=1),
    offset=timedelta(minutes=45),
    make_input=maintenance_input,
)

"""Scheduled jobs as workflows: the daily metrics rollup and the database maintenance.

Both are started by Temporal Schedules (journey/services/metrics/jobs.py) and only sequence
idempotent activities (activities/metrics.py), so a run that fails or overlaps is harmless: the next
one, or a retry, converges on the same rows. Time comes from `workflow.now()`.
"""

from __future__ import annotations

from datetime import date, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel, Field

    from journey.contracts.maintenance import (
        ENSURE_PARTITIONS,
        PURGE_EXPIRED,
        ROLLUP_METRICS_DAY,
        EnsurePartitionsInput,
        PurgeInput,
        PurgeResult,
        PurgeTable,
        RollupDayInput,
        RollupDayResult,
    )

ROLLUP_WORKFLOW = "journey.MetricsRollup"
MAINTENANCE_WORKFLOW = "journey.Maintenance"
# Purge calls per table and run; what is left waits for the next day's run.
MAX_PURGE_CALLS = 50
RETRY = RetryPolicy(maximum_interval=timedelta(minutes=1), maximum_attempts=10)


class MetricsRollupInput(BaseModel):
    """Roll up the `days` most recent whole days (UTC) before today, or only `day`."""

    days: int = Field(default=2, ge=1)
    day: date | None = None


class RetentionDays(BaseModel):
    table: PurgeTable
    days: int = Field(ge=1)


class MaintenanceInput(BaseModel):
    months_ahead: int = Field(default=3, ge=0)
    batch_size: int = Field(default=1000, ge=1)
    # In purge order: rows that refer to others go first.
    retention: list[RetentionDays] = Field(default_factory=list)


class MaintenanceResult(BaseModel):
    created_partitions: list[str]
    dropped_partitions: list[str]
    purged: dict[str, int]


@workflow.defn(name=ROLLUP_WORKFLOW)
class MetricsRollupWorkflow:
    @workflow.run
    async def run(self, request: MetricsRollupInput) -> list[RollupDayResult]:
        today = workflow.now().date()
        days = (
            [request.day]
            if request.day
            else [today - timedelta(days=back) for back in range(request.days, 0, -1)]
        )
        results = []
        for day in days:
            results.append(
                await workflow.execute_activity(
                    ROLLUP_METRICS_DAY,
                    RollupDayInput(day=day),
                    result_type=RollupDayResult,
                    start_to_close_timeout=timedelta(minutes=10),
                    retry_policy=RETRY,
                    summary=f"roll up {day.isoformat()}",
                )
            )
        return results


@workflow.defn(name=MAINTENANCE_WORKFLOW)
class MaintenanceWorkflow:
    @workflow.run
    async def run(self, request: MaintenanceInput) -> MaintenanceResult:
        now = workflow.now()
        created = await workflow.execute_activity(
            ENSURE_PARTITIONS,
            EnsurePartitionsInput(now=now, months_ahead=request.months_ahead),
            result_type=list[str],
            start_to_close_timeout=timedelta(minutes=10),
            retry_policy=RETRY,
            summary="create the coming months' lifecycle_events partitions",
        )
        purged: dict[str, int] = {}
        dropped: list[str] = []
        for policy in request.retention:
            cutoff = now - timedelta(days=policy.days)
            purged[policy.table] = 0
            for _ in range(MAX_PURGE_CALLS):
                result = await workflow.execute_activity(
                    PURGE_EXPIRED,
                    PurgeInput(table=policy.table, cutoff=cutoff, batch_size=request.batch_size),
                    result_type=PurgeResult,
                    start_to_close_timeout=timedelta(minutes=30),
                    heartbeat_timeout=timedelta(minutes=2),
                    retry_policy=RETRY,
                    summary=f"purge {policy.table} older than {policy.days} days",
                )
                purged[policy.table] += result.deleted
                dropped.extend(result.dropped_partitions)
                if result.done:
                    break
        return MaintenanceResult(
            created_partitions=created, dropped_partitions=dropped, purged=purged
        )

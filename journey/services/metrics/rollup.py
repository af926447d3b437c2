"""The daily rollup into `metrics_daily`, and reading it back.

`rollup_day` computes one UTC day's metrics and replaces that day's rows in one transaction
(delete, then insert), so re-running a day, a backfill or a retry gives the same rows.
`lifecycle_stage` is "all" where a metric is not about one stage. The metrics:

- `stage_entries` (each stage, no dimensions): users who entered the stage that day, as the
  funnel counts them (journey/services/metrics/funnel.py).
- `users_in_stage` (each stage): users created by the day's end, by their stage at its end:
  the `to_stage` of their latest history row up to then, Acquisition without one.
- `events` (the event's `lifecycle_stage`, else "all"; {"event_type": ...}): lifecycle_events
  rows created that day.
- `runs_started` ("all"; {"journey_id": ...}): workflow_executions started that day;
  `runs_completed`, `runs_failed`, `runs_cancelled`: runs that ended that day with that
  status; `runs_goal_reached`: runs that ended that day with the journey's goal reached.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, func, select, text
from sqlmodel import Session, col

from dsl.stages import LIFECYCLE_STAGES, LifecycleStage
from journey.core.db.models import (
    DailyMetric,
    LifecycleEvent,
    User,
    UserLifecycleHistory,
    WorkflowExecution,
)
from journey.services.metrics.funnel import lifecycle_funnel
from journey.services.metrics.periods import day_bounds

__all__ = ["ALL_STAGES", "daily_metrics", "rollup_day"]

ALL_STAGES = "all"
ENDED = ("completed", "failed", "cancelled")
# pg_advisory_xact_lock(class, day): one rollup of a day at a time on PostgreSQL.
_LOCK_CLASS = 0x6D6574

Row = tuple[str, str, dict[str, Any], int]  # (metric, stage, dimensions, value)


def _stage_entries(session: Session, day: date) -> Iterator[Row]:
    for stage in lifecycle_funnel(session, start=day, end=day).stages:
        yield "stage_entries", stage.stage.value, {}, stage.entered


def _users_in_stage(session: Session, day: date) -> Iterator[Row]:
    _, end = day_bounds(day, day)
    history = UserLifecycleHistory
    latest = (
        select(
            col(history.user_id),
            col(history.to_stage),
            func.row_number()
            .over(
                partition_by=col(history.user_id),
                order_by=(col(history.transitioned_at).desc(), col(history.id).desc()),
            )
            .label("rank"),
        )
        .where(col(history.transitioned_at) < end)
        .subquery("latest")
    )
    counts = dict.fromkeys(LIFECYCLE_STAGES, 0)
    query = (
        select(latest.c.to_stage, func.count())
        .select_from(User)
        .join(latest, latest.c.user_id == User.id)
        .where(latest.c.rank == 1, col(User.created_at) < end)
        .group_by(latest.c.to_stage)
    )
    staged = 0
    for stage, count in session.execute(query).all():
        counts[stage] += int(count)
        staged += int(count)
    created = session.execute(
        select(func.count()).select_from(User).where(col(User.created_at) < end)
    ).scalar_one()
    counts[LifecycleStage.ACQUISITION.value] += int(created) - staged
    for stage, count in counts.items():
        yield "users_in_stage", stage, {}, count


def _events(session: Session, day: date) -> Iterator[Row]:
    start, end = day_bounds(day, day)
    at, kind = col(LifecycleEvent.created_at), col(LifecycleEvent.event_type)
    stage = func.coalesce(col(LifecycleEvent.lifecycle_stage), ALL_STAGES)
    query = select(kind, stage, func.count()).where(at >= start, at < end).group_by(kind, stage)
    for event_type, event_stage, count in session.execute(query).all():
        yield "events", event_stage, {"event_type": event_type}, int(count)


def _runs(session: Session, day: date) -> Iterator[Row]:
    start, end = day_bounds(day, day)
    journey = col(WorkflowExecution.workflow_id)
    started, ended = col(WorkflowExecution.started_at), col(WorkflowExecution.completed_at)
    status = col(WorkflowExecution.status)
    for journey_id, count in session.execute(
        select(journey, func.count()).where(started >= start, started < end).group_by(journey)
    ).all():
        yield "runs_started", ALL_STAGES, {"journey_id": str(journey_id)}, int(count)
    finished = (ended >= start, ended < end, status.in_(ENDED))
    for journey_id, run_status, count in session.execute(
        select(journey, status, func.count()).where(*finished).group_by(journey, status)
    ).all():
        yield f"runs_{run_status}", ALL_STAGES, {"journey_id": str(journey_id)}, int(count)
    goal = col(WorkflowExecution.goal_reached).is_(True)
    for journey_id, count in session.execute(
        select(journey, func.count()).where(*finished, goal).group_by(journey)
    ).all():
        yield "runs_goal_reached", ALL_STAGES, {"journey_id": str(journey_id)}, int(count)


def rollup_day(session: Session, *, day: date) -> int:
    """Replace `day`'s rows of `metrics_daily` with freshly computed ones and commit; -> the
    number of rows written."""
    if session.get_bind().dialect.name == "postgresql":
        lock = text("SELECT pg_advisory_xact_lock(:key, :day)")
        session.execute(lock, {"key": _LOCK_CLASS, "day": day.toordinal()})
    rows = [
        *_stage_entries(session, day),
        *_users_in_stage(session, day),
        *_events(session, day),
        *_runs(session, day),
    ]
    session.execute(delete(DailyMetric).where(col(DailyMetric.metric_date) == day))
    session.add_all(
        DailyMetric(
            metric_date=day,
            lifecycle_stage=stage[:50],
            metric_name=metric[:100],
            metric_value=Decimal(value),
            dimensions=dimensions,
        )
        for metric, stage, dimensions, value in rows
    )
    session.commit()
    return len(rows)


def daily_metrics(
    session: Session,
    *,
    start: date,
    end: date,
    metric: str | None = None,
    stage: str | None = None,
    limit: int = 1000,
) -> list[DailyMetric]:
    """Stored rows of the days `start`..`end`, by day, metric, stage."""
    where = [col(DailyMetric.metric_date) >= start, col(DailyMetric.metric_date) <= end]
    if metric is not None:
        where.append(col(DailyMetric.metric_name) == metric)
    if stage is not None:
        where.append(col(DailyMetric.lifecycle_stage) == stage)
    query = (
        select(DailyMetric)
        .where(*where)
        .order_by(
            col(DailyMetric.metric_date),
            col(DailyMetric.metric_name),
            col(DailyMetric.lifecycle_stage),
            col(DailyMetric.id),
        )
        .limit(limit)
    )
    return list(session.scalars(query).all())

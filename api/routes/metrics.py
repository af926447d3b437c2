"""`/api/metrics`: lifecycle funnel, journey performance, segment conversion, cohorts, daily rows.

Thin HTTP layer over journey/services/metrics/ (read-only, viewer role). Query parameters that do
not fit together (a range that ends before it starts, both or neither of a stage and an event
goal) are 422 problems naming the parameter (`query.to`, `query.goal_stage`, ...). Unknown or
non-UUID journey and segment ids are 404. `POST /api/metrics/events` (api/routes/events.py)
is the events endpoint's alias and unrelated to these reports.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, status
from pydantic import ValidationError

from api.auth import Viewer
from api.deps import SessionDep
from api.errors import problem_responses
from api.params import (
    EARLIEST,
    MAX_DAYS,
    MAX_WINDOW,
    From,
    To,
    check_days,
    invalid_query,
)
from api.schemas import metrics as docs
from api.schemas.metrics import (
    CohortReport,
    DailyMetricPublic,
    DailyMetricsPublic,
    FunnelReport,
    SegmentConversion,
    WorkflowPerformance,
)
from dsl.stages import LifecycleStage
from journey.core.db.models import UserSegment, Workflow
from journey.services.metrics.cohorts import retention_cohorts
from journey.services.metrics.funnel import lifecycle_funnel
from journey.services.metrics.goals import Goal
from journey.services.metrics.performance import workflow_performance
from journey.services.metrics.periods import Period
from journey.services.metrics.rollup import daily_metrics
from journey.services.metrics.segments import segment_conversion

DEFAULT_DAYS = 30

router = APIRouter(
    prefix="/api/metrics",
    tags=["metrics"],
    responses=problem_responses(401, 403, 422, 429, 500),
)


EventType = Annotated[str | None, Query(min_length=1, max_length=100)]


def _today() -> date:
    return datetime.now(UTC).date()


def day_range(from_: From = None, to: To = None) -> tuple[date, date]:
    """The inclusive range asked for; by default the last DEFAULT_DAYS days up to today."""
    check_days(from_, to)
    end = to or max(_today(), from_ or EARLIEST)
    start = from_ or max(EARLIEST, end - timedelta(days=DEFAULT_DAYS - 1))
    check_days(start, end)
    return start, end


DayRange = Annotated[tuple[date, date], Depends(day_range)]


def _goal(stage: LifecycleStage | None, event: str | None, *, names: tuple[str, str]) -> Goal:
    try:
        return Goal(stage=stage, event=event)
    except ValidationError:
        raise invalid_query(
            names[0], f"give exactly one of `{names[0]}` and `{names[1]}`"
        ) from None


@router.get(
    "/lifecycle/funnel",
    response_model=FunnelReport,
    responses=problem_responses(404),
    summary="Users per lifecycle stage and stage-to-stage conversion",
    description=docs.FUNNEL,
)
def funnel(
    session: SessionDep,
    _: Viewer,
    days: DayRange,
    segment_id: Annotated[uuid.UUID | None, Query(description="Only this segment")] = None,
) -> FunnelReport:
    if segment_id is not None and session.get(UserSegment, segment_id) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no segment with id {segment_id}")
    return lifecycle_funnel(session, start=days[0], end=days[1], segment_id=segment_id)


@router.get(
    "/workflows/{workflow_id}/performance",
    response_model=WorkflowPerformance,
    responses=problem_responses(404),
    summary="Runs, durations, nodes and split variants of one journey",
    description=docs.PERFORMANCE,
)
def performance(
    session: SessionDep,
    _: Viewer,
    workflow_id: str,
    from_: From = None,
    to: To = None,
    version: Annotated[str | None, Query(max_length=50)] = None,
) -> WorkflowPerformance:
    unknown = HTTPException(status.HTTP_404_NOT_FOUND, f"no journey with id {workflow_id!r}")
    try:
        journey_id = uuid.UUID(workflow_id)
    except ValueError:
        raise unknown from None
    if session.get(Workflow, journey_id) is None:
        raise unknown
    check_days(from_, to)
    return workflow_performance(
        session, journey_id=journey_id, version=version, start=from_, end=to
    )


@router.get(
    "/segments/{segment_id}/conversion",
    response_model=SegmentConversion,
    responses=problem_responses(404),
    summary="Share of a segment's members reaching a goal within a window",
    description=docs.SEGMENT_CONVERSION,
)
def conversion(
    session: SessionDep,
    _: Viewer,
    segment_id: str,
    goal_stage: LifecycleStage | None = None,
    goal_event: EventType = None,
    window: Annotated[timedelta, Query(description="ISO 8601 duration, e.g. P7D")] = timedelta(
        days=7
    ),
) -> SegmentConversion:
    unknown = HTTPException(status.HTTP_404_NOT_FOUND, f"no segment with id {segment_id!r}")
    try:
        key = uuid.UUID(segment_id)
    except ValueError:
        raise unknown from None
    if session.get(UserSegment, key) is None:
        raise unknown
    goal = _goal(goal_stage, goal_event, names=("goal_stage", "goal_event"))
    if not timedelta(0) < window <= MAX_WINDOW:
        raise invalid_query("window", f"must be positive and at most {MAX_DAYS} days")
    return segment_conversion(session, segment_id=key, goal=goal, window=window)


@router.get(
    "/cohorts",
    response_model=CohortReport,
    summary="Retention by signup cohort",
    description=docs.COHORTS,
)
def cohorts(
    session: SessionDep,
    _: Viewer,
    days: DayRange,
    period: Period = Period.week,
    stage: LifecycleStage | None = None,
    event: EventType = None,
    periods: Annotated[int, Query(ge=1, le=120, description="Offsets per cohort")] = 12,
) -> CohortReport:
    goal = _goal(stage, event, names=("stage", "event"))
    return retention_cohorts(
        session,
        period=period,
        goal=goal,
        start=days[0],
        end=days[1],
        periods=periods,
        today=_today(),
    )


@router.get(
    "/daily",
    response_model=DailyMetricsPublic,
    summary="Stored rows of the daily rollup",
    description=docs.DAILY,
)
def daily(
    session: SessionDep,
    _: Viewer,
    days: DayRange,
    metric: Annotated[str | None, Query(max_length=100)] = None,
    stage: Annotated[str | None, Query(max_length=50)] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> DailyMetricsPublic:
    rows = daily_metrics(
        session, start=days[0], end=days[1], metric=metric, stage=stage, limit=limit
    )
    return DailyMetricsPublic(items=[DailyMetricPublic.of(row) for row in rows])

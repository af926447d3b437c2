"""How one journey performs: its runs by status, durations, nodes and split variants.

Definitions (over the journey's `workflow_executions` rows, all versions unless one is asked
for, optionally only runs started within an inclusive UTC day range):

- `runs_by_status`: rows per status (pending, running, completed, failed, cancelled).
- `completion_rate` = completed / finished, where finished = completed + failed + cancelled
  (null when none finished); runs still open do not count against it.
- `duration`: of completed runs, `completed_at - started_at` in seconds; p50 and p95 are
  nearest-rank percentiles (the ceil(q * n)-th smallest).
- `nodes`: from `workflow_execution_nodes`, which each run writes when it ends (so only
  finished runs, recorded since migration 0005): per node, the runs that entered it, and the
  visits that were entered, completed (step outcome ok) and failed (error: went to
  `on_error`; failed: failed the run), summed over runs. After continue-as-new a run carries
  only its last 200 steps, so very long runs undercount their early visits.
- `goal`: runs whose end was recorded with the journey's `goal` evaluated (the condition,
  checked on the run's final state): how many, how many reached it, and the share.
- `variants`: per `split` node and variant, the finished runs that got it, how many of those
  had the goal evaluated and reached it, and `goal_rate` = reached / evaluated.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel, Field
from sqlalchemy import Integer, and_, case, func, select
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col

from journey.core.db.models import EXECUTION_STATUSES, WorkflowExecution, WorkflowExecutionNode
from journey.services.metrics.periods import day_bounds, percentile, rate

__all__ = ["WorkflowPerformance", "workflow_performance"]

FINISHED = ("completed", "failed", "cancelled")


class Durations(BaseModel):
    runs: int = Field(description="Completed runs with both timestamps.")
    p50_seconds: float | None
    p95_seconds: float | None


class GoalStats(BaseModel):
    evaluated: int = Field(description="Finished runs recorded with the goal evaluated.")
    reached: int
    rate: float | None = Field(description="reached / evaluated")


class NodeStats(BaseModel):
    node_id: str
    type: str
    runs: int = Field(description="Finished runs that entered the node.")
    entered: int
    completed: int
    failed: int


class VariantStats(BaseModel):
    node_id: str
    variant: str
    runs: int
    goal_evaluated: int
    goal_reached: int
    goal_rate: float | None = Field(description="goal_reached / goal_evaluated")


class WorkflowPerformance(BaseModel):
    journey_id: uuid.UUID
    version: str | None
    started_from: date | None
    started_to: date | None
    runs: int
    runs_by_status: dict[str, int]
    completion_rate: float | None = Field(description="completed / (completed+failed+cancelled)")
    duration: Durations
    goal: GoalStats
    nodes: list[NodeStats]
    variants: list[VariantStats]


def _filters(
    journey_id: uuid.UUID, version: str | None, start: date | None, end: date | None
) -> list[ColumnElement[bool]]:
    where = [col(WorkflowExecution.workflow_id) == journey_id]
    if version is not None:
        where.append(col(WorkflowExecution.workflow_version) == version)
    started = col(WorkflowExecution.started_at)
    if start is not None:
        where.append(started >= day_bounds(start, start)[0])
    if end is not None:
        where.append(started < day_bounds(end, end)[1])
    return where


def _seconds(started: datetime | None, completed: datetime | None) -> float | None:
    if started is None or completed is None:
        return None
    return (completed - started).total_seconds()


def workflow_performance(
    session: Session,
    *,
    journey_id: uuid.UUID,
    version: str | None = None,
    start: date | None = None,
    end: date | None = None,
) -> WorkflowPerformance:
    where = _filters(journey_id, version, start, end)
    statuses = dict.fromkeys(EXECUTION_STATUSES, 0)
    status_rows = session.execute(
        select(col(WorkflowExecution.status), func.count())
        .where(*where)
        .group_by(col(WorkflowExecution.status))
    ).all()
    statuses.update({status: int(count) for status, count in status_rows})
    finished = sum(statuses[status] for status in FINISHED)

    spans = session.execute(
        select(col(WorkflowExecution.started_at), col(WorkflowExecution.completed_at)).where(
            *where, col(WorkflowExecution.status) == "completed"
        )
    ).all()
    durations = sorted(s for s in (_seconds(a, b) for a, b in spans) if s is not None)

    goal = col(WorkflowExecution.goal_reached)
    reached_int = case((goal.is_(True), 1), else_=0)
    evaluated, reached = session.execute(
        select(func.count(goal), func.coalesce(func.sum(reached_int), 0)).where(*where)
    ).one()

    runs = select(col(WorkflowExecution.id)).where(*where).subquery()
    node = WorkflowExecutionNode
    node_rows = session.execute(
        select(
            col(node.node_id),
            col(node.node_type),
            func.count(),
            func.sum(col(node.entered)),
            func.sum(col(node.completed)),
            func.sum(col(node.failed)),
        )
        .join(runs, runs.c.id == node.execution_id)
        .group_by(col(node.node_id), col(node.node_type))
        .order_by(col(node.node_id))
    ).all()

    variant_rows = session.execute(
        select(
            col(node.node_id),
            col(node.variant),
            func.count(),
            func.count(goal),
            func.coalesce(func.sum(reached_int), 0).cast(Integer),
        )
        .join(WorkflowExecution, and_(col(WorkflowExecution.id) == node.execution_id, *where))
        .where(col(node.variant).is_not(None))
        .group_by(col(node.node_id), col(node.variant))
        .order_by(col(node.node_id), col(node.variant))
    ).all()

    return WorkflowPerformance(
        journey_id=journey_id,
        version=version,
        started_from=start,
        started_to=end,
        runs=sum(statuses.values()),
        runs_by_status=statuses,
        completion_rate=rate(statuses["completed"], finished),
        duration=Durations(
            runs=len(durations),
            p50_seconds=percentile(durations, 0.5),
            p95_seconds=percentile(durations, 0.95),
        ),
        goal=GoalStats(
            evaluated=int(evaluated), reached=int(reached), rate=rate(int(reached), int(evaluated))
        ),
        nodes=[
            NodeStats(
                node_id=n, type=t, runs=int(r), entered=int(e), completed=int(c), failed=int(f)
            )
            for n, t, r, e, c, f in node_rows
        ],
        variants=[
            VariantStats(
                node_id=n,
                variant=v,
                runs=int(r),
                goal_evaluated=int(ev),
                goal_reached=int(re),
                goal_rate=rate(int(re), int(ev)),
            )
            for n, v, r, ev, re in variant_rows
        ],
    )

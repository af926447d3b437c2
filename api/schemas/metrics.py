"""Response models and endpoint descriptions of `/api/metrics`.

The report models themselves live with their definitions in journey/services/metrics/ (the gateway
serves them as they are); this module adds the stored daily rows and the texts of the OpenAPI
document, which repeat each metric's definition for API users.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from journey.core.db.models import DailyMetric
from journey.services.metrics.cohorts import CohortReport
from journey.services.metrics.funnel import FunnelReport
from journey.services.metrics.performance import WorkflowPerformance
from journey.services.metrics.segments import SegmentConversion

__all__ = [
    "COHORTS",
    "DAILY",
    "FUNNEL",
    "PERFORMANCE",
    "SEGMENT_CONVERSION",
    "CohortReport",
    "DailyMetricPublic",
    "DailyMetricsPublic",
    "FunnelReport",
    "SegmentConversion",
    "WorkflowPerformance",
]

RANGE = (
    "`from` and `to` are inclusive UTC calendar days (YYYY-MM-DD); by default the last 30 days "
    "up to today. At most 3660 days."
)

FUNNEL = f"""Users per AARRR stage and stage-to-stage conversion over a date range.

- **entered**: users who entered the stage in the range: a `user_lifecycle_history` row moving
  them to it, or, for Acquisition, being created in the range. Each user counts once per stage.
- **converted**: of those, users who entered the *next* stage (AARRR order) in the range, at or
  after their first entry into this one. Skipping a stage is not a conversion to it.
- **conversion_rate** = converted / entered (null when nobody entered; none for Referral).
- `segment_id`: only the segment's members (its `user_segment_memberships` rows).

{RANGE}"""

PERFORMANCE = """How one journey's runs perform (all versions unless `version` is given;
`from`/`to` optionally restrict to runs *started* on those inclusive UTC days).

- **runs_by_status**: `workflow_executions` rows per status.
- **completion_rate** = completed / (completed + failed + cancelled); open runs do not count.
- **duration**: seconds from start to end of completed runs; p50/p95 are nearest-rank.
- **nodes**: per node, from what each finished run recorded when it ended: runs that entered
  it, and visits entered / completed / failed (went to `on_error` or failed the run).
- **goal**: finished runs recorded with the journey's `goal` evaluated on their final state,
  and how many reached it.
- **variants**: per `split` node and variant, runs that got it and the share reaching the goal.
"""

SEGMENT_CONVERSION = """The share of a segment's members who reach a goal within a window
after joining.

Members are the segment's `user_segment_memberships` rows; a member joined at the row's
`evaluated_at`. A member converted when the goal occurred at or after joining and at most
`window` (ISO 8601 duration, default P7D) later. The goal is exactly one of `goal_stage` (a
`user_lifecycle_history` row moving the user to that stage; for Acquisition also the user's
creation) and `goal_event` (a `lifecycle_events` row of that exact type for the user).
**conversion_rate** = converted / members; **median_seconds** is the median time to convert.
"""

COHORTS = f"""Retention by signup cohort.

Users created in the range are grouped by the `period` (ISO week from Monday, or calendar
month, UTC) of `users.created_at`. For each cohort and offset k = 0..`periods`-1 (periods that
have begun only), **users** is how many of the cohort reached the goal in period cohort + k and
**share** = users / cohort size. The goal is exactly one of `stage` (a history row moving the
user to it; for Acquisition also the creation) and `event` (a `lifecycle_events` row of that
type). Every period of the range is listed, empty cohorts included.

{RANGE}"""

DAILY = f"""Rows of the daily rollup (`metrics_daily`), by day, metric and stage.

Metrics: `stage_entries` and `users_in_stage` per stage; `events` per event type
(dimensions `event_type`); `runs_started`, `runs_completed`, `runs_failed`, `runs_cancelled`
and `runs_goal_reached` per journey (dimensions `journey_id`, stage `all`). The rollup runs
daily (Temporal Schedule `journey-metrics-rollup`) and on `journey metrics rollup --day`.

{RANGE}"""


class DailyMetricPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    metric_date: date
    lifecycle_stage: str = Field(description='A stage, or "all"')
    metric_name: str
    metric_value: float
    dimensions: dict[str, Any]

    @classmethod
    def of(cls, row: DailyMetric) -> DailyMetricPublic:
        return cls(
            metric_date=row.metric_date,
            lifecycle_stage=row.lifecycle_stage,
            metric_name=row.metric_name,
            metric_value=float(row.metric_value),
            dimensions=dict(row.dimensions or {}),
        )


class DailyMetricsPublic(BaseModel):
    items: list[DailyMetricPublic]

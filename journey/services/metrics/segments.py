"""Segment conversion: the share of a segment's members who reach a goal soon after joining.

Definitions:

- Members are the segment's `user_segment_memberships` rows (the cached membership, whatever
  its `valid_until`); a member *joined* at the row's `evaluated_at` (when the membership was
  last evaluated).
- A member *converted* when the goal (a stage reached or an event had, goals.py) occurred at
  or after joining and at most `window` later: joined <= at <= joined + window.
- `conversion_rate` = converted / members (null for an empty segment); `median_seconds` is
  the nearest-rank median time from joining to the first occurrence, over the converted.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from pydantic import BaseModel, Field
from sqlalchemy import and_, func, select
from sqlmodel import Session, col

from dsl.durations import Duration
from journey.core.db.models import UserSegmentMembership
from journey.services.metrics.funnel import segment_members
from journey.services.metrics.goals import Goal, goal_times
from journey.services.metrics.periods import percentile, rate

__all__ = ["SegmentConversion", "segment_conversion"]


class SegmentConversion(BaseModel):
    segment_id: uuid.UUID
    goal: Goal
    window: Duration
    members: int
    converted: int = Field(description="Members who reached the goal within the window.")
    conversion_rate: float | None = Field(description="converted / members")
    median_seconds: float | None = Field(
        description="Median time from joining to the goal, over the converted members."
    )


def segment_conversion(
    session: Session, *, segment_id: uuid.UUID, goal: Goal, window: timedelta
) -> SegmentConversion:
    membership = UserSegmentMembership
    joined = col(membership.evaluated_at)
    times = goal_times(goal, users=segment_members(segment_id)).subquery("goal")
    rows = session.execute(
        select(col(membership.user_id), joined, func.min(times.c.at))
        .select_from(membership)
        .outerjoin(times, and_(times.c.user_id == membership.user_id, times.c.at >= joined))
        .where(col(membership.segment_id) == segment_id)
        .group_by(col(membership.user_id), joined)
    ).all()
    delays = sorted(
        (first - joined_at).total_seconds()
        for _, joined_at, first in rows
        if first is not None and joined_at is not None and first - joined_at <= window
    )
    return SegmentConversion(
        segment_id=segment_id,
        goal=goal,
        window=window,
        members=len(rows),
        converted=len(delays),
        conversion_rate=rate(len(delays), len(rows)),
        median_seconds=percentile(delays, 0.5),
    )

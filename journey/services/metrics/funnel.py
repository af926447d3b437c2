"""The lifecycle funnel: who entered each AARRR stage in a date range, and who moved on.

Definitions (days are UTC and inclusive, see periods.py):

- A user *entered* a stage in the range when `user_lifecycle_history` has a row moving them
  to it (`to_stage`, `transitioned_at` in the range); for Acquisition, being created in the
  range (`users.created_at`) counts too. Each user counts once per stage however often they
  entered it.
- A user who entered stage S in the range *converted* to the next stage in AARRR order
  (dsl/stages.py) when they also entered that next stage in the range, at or after their
  first entry into S in the range. Skipping a stage (Acquisition -> Revenue) is not a
  conversion to the skipped one.
- `conversion_rate` = converted / entered (null when nobody entered); the last stage
  (Referral) has no next stage.
- With a segment, only its members count: users with a `user_segment_memberships` row for it
  (the cached membership, whatever its `valid_until`).
"""

from __future__ import annotations

import uuid
from datetime import date
from itertools import pairwise
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import Select, String, and_, case, func, literal, select, union_all
from sqlmodel import Session, col

from dsl.stages import LIFECYCLE_STAGES, LifecycleStage
from journey.core.db.models import User, UserLifecycleHistory, UserSegmentMembership
from journey.services.metrics.periods import DateRange, day_bounds, rate

__all__ = ["FunnelReport", "FunnelStage", "lifecycle_funnel", "segment_members"]

NEXT_STAGE = dict(pairwise(LIFECYCLE_STAGES))


class FunnelStage(BaseModel):
    stage: LifecycleStage
    entered: int = Field(description="Users who entered the stage in the range.")
    next_stage: LifecycleStage | None = Field(description="The next stage in AARRR order.")
    converted: int | None = Field(
        description="Of those, users who entered the next stage in the range, at or after "
        "their first entry into this one."
    )
    conversion_rate: float | None = Field(description="converted / entered")


class FunnelReport(BaseModel):
    range: DateRange
    segment_id: uuid.UUID | None
    stages: list[FunnelStage]


def segment_members(segment_id: uuid.UUID) -> Select[Any]:
    """A subquery of the user ids with a membership row for the segment."""
    return select(col(UserSegmentMembership.user_id)).where(
        col(UserSegmentMembership.segment_id) == segment_id
    )


def lifecycle_funnel(
    session: Session, *, start: date, end: date, segment_id: uuid.UUID | None = None
) -> FunnelReport:
    since, until = day_bounds(start, end)
    user, at = col(UserLifecycleHistory.user_id), col(UserLifecycleHistory.transitioned_at)
    created = col(User.created_at)
    in_history, in_signups = [at >= since, at < until], [created >= since, created < until]
    if segment_id is not None:
        in_history.append(user.in_(segment_members(segment_id)))
        in_signups.append(col(User.id).in_(segment_members(segment_id)))
    history: Select[Any, Any, Any] = select(
        user.label("user_id"), col(UserLifecycleHistory.to_stage).label("stage"), at.label("at")
    ).where(*in_history)
    signups: Select[Any, Any, Any] = select(
        col(User.id).label("user_id"),
        literal(LifecycleStage.ACQUISITION.value, String(50)).label("stage"),
        created.label("at"),
    ).where(*in_signups)
    entries = union_all(history, signups).subquery("entries")
    firsts = (
        select(
            entries.c.user_id,
            entries.c.stage,
            func.min(entries.c.at).label("first_at"),
            func.max(entries.c.at).label("last_at"),
        )
        .group_by(entries.c.user_id, entries.c.stage)
        .cte("firsts")
    )
    this, nxt = firsts.alias("this"), firsts.alias("nxt")
    next_of = case(NEXT_STAGE, value=this.c.stage, else_=None)
    moved_on = and_(
        nxt.c.user_id == this.c.user_id,
        nxt.c.stage == next_of,
        nxt.c.last_at >= this.c.first_at,
    )
    rows = session.execute(
        select(this.c.stage, func.count(), func.count(nxt.c.user_id))
        .select_from(this.outerjoin(nxt, moved_on))
        .group_by(this.c.stage)
    ).all()
    counts = {stage: (int(entered), int(converted)) for stage, entered, converted in rows}
    stages = []
    for stage in LIFECYCLE_STAGES:
        entered, converted = counts.get(stage, (0, 0))
        following = NEXT_STAGE.get(stage)
        stages.append(
            FunnelStage(
                stage=LifecycleStage(stage),
                entered=entered,
                next_stage=LifecycleStage(following) if following else None,
                converted=converted if following else None,
                conversion_rate=rate(converted, entered) if following else None,
            )
        )
    return FunnelReport(range=DateRange(from_=start, to=end), segment_id=segment_id, stages=stages)

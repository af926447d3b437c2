"""Retention by signup cohort.

Definitions (UTC; weeks start on Monday, months on the 1st):

- A user's *cohort* is the period (week or month) of `users.created_at`; the report covers the
  users created within the inclusive day range `from`..`to`, and lists every period from the
  one containing `from` to the one containing `to`, empty ones included.
- For a cohort C and an offset k >= 0, `users` is the number of the cohort's users for whom
  the goal (a stage reached or an event had, goals.py) occurred in period C + k, and
  `share` = users / cohort size. A user counts once per period, in as many periods as they
  were active in. Offsets run from 0 to `periods` - 1, but only for periods that have begun
  (`today`), so the table is the usual triangle.
"""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field
from sqlalchemy import and_, func, select
from sqlmodel import Session, col

from journey.core.db.models import User
from journey.services.metrics.goals import Goal, goal_times
from journey.services.metrics.periods import (
    DateRange,
    Period,
    add_periods,
    day_bounds,
    period_start,
    period_start_sql,
    rate,
)

__all__ = ["CohortReport", "retention_cohorts"]


class CohortCell(BaseModel):
    offset: int = Field(description="Periods after the cohort's own (0 = the signup period).")
    period_start: date
    users: int
    share: float | None = Field(description="users / cohort size")


class Cohort(BaseModel):
    cohort: date = Field(description="First day of the signup period.")
    size: int
    retention: list[CohortCell]


class CohortReport(BaseModel):
    period: Period
    goal: Goal
    range: DateRange
    periods: int
    cohorts: list[Cohort]


def retention_cohorts(
    session: Session,
    *,
    period: Period,
    goal: Goal,
    start: date,
    end: date,
    periods: int,
    today: date,
) -> CohortReport:
    dialect = session.get_bind().dialect.name
    since, until = day_bounds(start, end)
    created = col(User.created_at)
    signed_up = and_(created >= since, created < until)
    cohort_of = period_start_sql(created, period, dialect)
    sizes = {
        date.fromisoformat(bucket): int(count)
        for bucket, count in session.execute(
            select(cohort_of, func.count()).where(signed_up).group_by(cohort_of)
        ).all()
    }

    first_cohort = period_start(start, period)
    times = goal_times(goal, since=day_bounds(first_cohort, first_cohort)[0]).subquery("goal")
    active_in = period_start_sql(times.c.at, period, dialect)
    active: dict[tuple[date, date], int] = {}
    for cohort, bucket, count in session.execute(
        select(cohort_of, active_in, func.count(func.distinct(col(User.id))))
        .select_from(User)
        .join(times, times.c.user_id == User.id)
        .where(signed_up)
        .group_by(cohort_of, active_in)
    ).all():
        active[(date.fromisoformat(cohort), date.fromisoformat(bucket))] = int(count)

    cohorts = []
    cohort = first_cohort
    while cohort <= end:
        size = sizes.get(cohort, 0)
        cells = []
        for offset in range(periods):
            begins = add_periods(cohort, period, offset)
            if begins > today:
                break
            users = active.get((cohort, begins), 0)
            cells.append(
                CohortCell(offset=offset, period_start=begins, users=users, share=rate(users, size))
            )
        cohorts.append(Cohort(cohort=cohort, size=size, retention=cells))
        cohort = add_periods(cohort, period, 1)
    return CohortReport(
        period=period,
        goal=goal,
        range=DateRange(from_=start, to=end),
        periods=periods,
        cohorts=cohorts,
    )

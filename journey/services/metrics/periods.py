"""Day ranges, calendar periods and small statistics shared by the metric reports.

Days and periods are UTC. A day range is inclusive on both ends (`from`..`to`) and becomes the
half-open interval [from 00:00, to + 1 day 00:00). Weeks start on Monday (ISO), months on the
1st. `period_start_sql` buckets a timestamp column into its period's first day, as text
'YYYY-MM-DD', on either database (SQLite stores timestamps as UTC text).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Integer, String, cast, func, literal
from sqlalchemy.sql.elements import ColumnElement

__all__ = [
    "DateRange",
    "Period",
    "add_periods",
    "day_bounds",
    "percentile",
    "period_start",
    "period_start_sql",
    "rate",
]


class Period(StrEnum):
    week = "week"
    month = "month"


class DateRange(BaseModel):
    """Inclusive UTC calendar days."""

    model_config = ConfigDict(populate_by_name=True)

    from_: date = Field(alias="from")
    to: date


def day_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """[start 00:00, end + 1 day 00:00) in UTC: the instants of the inclusive days."""
    return (
        datetime.combine(start, time(), tzinfo=UTC),
        datetime.combine(end + timedelta(days=1), time(), tzinfo=UTC),
    )


def period_start(day: date, period: Period) -> date:
    if period is Period.week:
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def add_periods(start: date, period: Period, count: int) -> date:
    if period is Period.week:
        return start + timedelta(weeks=count)
    index = start.year * 12 + start.month - 1 + count
    return date(index // 12, index % 12 + 1, 1)


def period_start_sql(column: Any, period: Period, dialect: str) -> ColumnElement[str]:
    """SQL for the first day of the period `column` (a UTC timestamp) falls in: 'YYYY-MM-DD'."""
    if dialect == "postgresql":
        utc = func.timezone("UTC", column)
        return func.to_char(func.date_trunc(period.value, utc), "YYYY-MM-DD")
    if period is Period.month:
        return func.strftime("%Y-%m-01", column)
    # Monday of the week: back (weekday + 6) % 7 days, with %w counting from Sunday = 0.
    back = (cast(func.strftime("%w", column), Integer) + 6) % 7
    return func.date(column, literal("-", String) + cast(back, String) + literal(" days", String))


def percentile(sorted_values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile: the ceil(q * n)-th smallest value (None without values)."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(q * len(sorted_values)))
    return sorted_values[rank - 1]


def rate(part: int, whole: int) -> float | None:
    """part / whole, or None when there is nothing to divide by."""
    return part / whole if whole else None

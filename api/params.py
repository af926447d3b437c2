"""Query parameters several routes share: day ranges and their bounds."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated

from fastapi import Query
from fastapi.exceptions import RequestValidationError

MAX_DAYS = 3660
MAX_WINDOW = timedelta(days=MAX_DAYS)
# Far enough from date.min/max that every bound and period stays representable.
EARLIEST, LATEST = date(1900, 1, 1), date(9000, 12, 31)


From = Annotated[date | None, Query(alias="from", description="First day (inclusive), UTC")]
To = Annotated[date | None, Query(description="Last day (inclusive), UTC")]


def invalid_query(parameter: str, message: str) -> RequestValidationError:
    return RequestValidationError(
        [{"loc": ("query", parameter), "msg": message, "type": "value_error"}]
    )


def check_days(start: date | None, end: date | None) -> None:
    for name, day in (("from", start), ("to", end)):
        if day is not None and not EARLIEST <= day <= LATEST:
            raise invalid_query(name, f"must be between {EARLIEST} and {LATEST}")
    if start is not None and end is not None:
        if end < start:
            raise invalid_query("to", "must not be before `from`")
        if (end - start).days >= MAX_DAYS:
            raise invalid_query("to", f"the range is longer than {MAX_DAYS} days")

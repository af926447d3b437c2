"""Retention cohorts on both databases, weekly and monthly, counted by hand."""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from dsl.stages import LifecycleStage
from journey.services.metrics.cohorts import CohortReport, retention_cohorts
from journey.services.metrics.goals import Goal
from journey.services.metrics.periods import Period
from tests.journey.services.metrics.data import Data

TODAY = date(2026, 3, 20)  # a Friday: the week of 03-16 has begun, that of 03-23 has not


def grid(report: CohortReport) -> dict[str, tuple[int, list[tuple[int, int, float | None]]]]:
    return {
        c.cohort.isoformat(): (c.size, [(x.offset, x.users, x.share) for x in c.retention])
        for c in report.cohorts
    }


def test_weekly_cohorts_by_event(session_factory: sessionmaker[Session]) -> None:
    """Weeks from Monday. Range 03-02 (Mon) .. 03-15 (Sun): cohorts 03-02 and 03-09.

    u1 created 03-02, logins 03-03 (week 0), 03-10 and 03-11 (week 1, once), 03-17 (week 2);
    u2 created 03-08 23:59:59 (Sunday: cohort 03-02), login 03-09 00:00 (week 1);
    u3 created 03-09, logins 03-09 (week 0) and 03-23 (week 2: not begun by TODAY);
    u4 created 03-16 and u5 created 03-01 are outside the range.
    """
    with session_factory() as session:
        data = Data(session)
        users = [
            ("u1", "2026-03-02"),
            ("u2", "2026-03-08 23:59:59"),
            ("u3", "2026-03-09"),
            ("u4", "2026-03-16"),
            ("u5", "2026-03-01"),
        ]
        for user, created in users:
            data.user(user, created)
        for user, when in [
            ("u1", "2026-03-03"),
            ("u1", "2026-03-10"),
            ("u1", "2026-03-11"),
            ("u1", "2026-03-17"),
            ("u2", "2026-03-09 00:00"),
            ("u3", "2026-03-09"),
            ("u3", "2026-03-23"),
            ("u4", "2026-03-16"),
            ("u5", "2026-03-03"),
            (None, "2026-03-03"),
        ]:
            data.event(user, "login", when)
        data.event("u1", "logout", "2026-03-03")
        session.commit()
        report = retention_cohorts(
            session,
            period=Period.week,
            goal=Goal(event="login"),
            start=date(2026, 3, 2),
            end=date(2026, 3, 15),
            periods=4,
            today=TODAY,
        )
    assert grid(report) == {
        "2026-03-02": (2, [(0, 1, 0.5), (1, 2, 1.0), (2, 1, 0.5)]),
        "2026-03-09": (1, [(0, 1, 1.0), (1, 0, 0.0)]),
    }
    assert [cell.period_start for cell in report.cohorts[0].retention] == [
        date(2026, 3, 2),
        date(2026, 3, 9),
        date(2026, 3, 16),
    ]


def test_monthly_cohorts_by_stage(session_factory: sessionmaker[Session]) -> None:
    """v1 created 01-15, Activation 01-20 (month 0) and 03-05 (month 2); v2 created
    01-31 23:00, Activation 02-01 (month 1); v3 created 02-10, never activated."""
    with session_factory() as session:
        data = Data(session)
        for user, created in [
            ("v1", "2026-01-15"),
            ("v2", "2026-01-31 23:00"),
            ("v3", "2026-02-10"),
        ]:
            data.user(user, created)
        for user, when in [("v1", "2026-01-20"), ("v1", "2026-03-05"), ("v2", "2026-02-01")]:
            data.move(user, "Activation", when)
        data.move("v3", "Retention", "2026-02-11")
        session.commit()
        report = retention_cohorts(
            session,
            period=Period.month,
            goal=Goal(stage=LifecycleStage.ACTIVATION),
            start=date(2026, 1, 1),
            end=date(2026, 2, 28),
            periods=3,
            today=TODAY,
        )
    assert grid(report) == {
        "2026-01-01": (2, [(0, 1, 0.5), (1, 1, 0.5), (2, 1, 0.5)]),
        "2026-02-01": (1, [(0, 0, 0.0), (1, 0, 0.0)]),
    }


def test_empty_cohorts_are_listed(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        report = retention_cohorts(
            session,
            period=Period.week,
            goal=Goal(event="login"),
            start=date(2026, 3, 4),
            end=date(2026, 3, 10),
            periods=2,
            today=TODAY,
        )
    assert grid(report) == {
        "2026-03-02": (0, [(0, 0, None), (1, 0, None)]),
        "2026-03-09": (0, [(0, 0, None), (1, 0, None)]),
    }

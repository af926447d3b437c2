"""The daily rollup on both databases: values counted by hand, and re-runs that replace a day.

Day 2026-03-10. Users: a created 03-09, b 03-10 08:00, c 03-10 23:00, d 03-11. History: a to
Activation 03-10 09:00 (and Retention 03-11), b to Activation 10:00 and Retention 11:00.
Events that day: three `login` (no stage), one `lifecycle.stage_changed` (Activation); one
`login` on 03-11. Runs: J r1 started and completed that day (goal reached), J r2 started 03-09
and failed that day, J r3 started that day and still running, K r4 started and cancelled.
"""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, col, select

from journey.core.db.models import DailyMetric
from journey.services.metrics.rollup import daily_metrics, rollup_day
from tests.journey.services.metrics.data import Data

DAY = date(2026, 3, 10)


def seed(data: Data) -> tuple[uuid.UUID, uuid.UUID]:
    for user, created in [
        ("a", "2026-03-09"),
        ("b", "2026-03-10 08:00"),
        ("c", "2026-03-10 23:00"),
        ("d", "2026-03-11"),
    ]:
        data.user(user, created)
    data.move("a", "Activation", "2026-03-10 09:00")
    data.move("a", "Retention", "2026-03-11 09:00")
    data.move("b", "Activation", "2026-03-10 10:00")
    data.move("b", "Retention", "2026-03-10 11:00")
    for when in ("2026-03-10 01:00", "2026-03-10 02:00", "2026-03-10 23:59:59"):
        data.event("a", "login", when)
    data.event("b", "lifecycle.stage_changed", "2026-03-10 10:00", stage="Activation")
    data.event("a", "login", "2026-03-11 00:00")
    j, k = data.journey("J"), data.journey("K")
    data.run(j, "a", "completed", "2026-03-10 09:00", "2026-03-10 09:05", goal=True)
    data.run(j, "a", "failed", "2026-03-09 09:00", "2026-03-10 00:05", goal=False)
    data.run(j, "b", "running", "2026-03-10 12:00")
    data.run(k, "b", "cancelled", "2026-03-10 12:00", "2026-03-10 13:00")
    return j, k


def rows(session: Session, day: date) -> dict[tuple[str, str, str], Decimal]:
    found = session.exec(select(DailyMetric).where(col(DailyMetric.metric_date) == day)).all()
    return {(r.metric_name, r.lifecycle_stage, _dims(r.dimensions)): r.metric_value for r in found}


def _dims(dimensions: dict[str, Any] | None) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted((dimensions or {}).items()))


def test_a_day_counted_by_hand(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        j, k = seed(Data(session))
        session.commit()
        assert rollup_day(session, day=DAY) == 18
        stored = rows(session, DAY)
    stages = ("Acquisition", "Activation", "Retention", "Revenue", "Referral")
    expected = {
        **{("stage_entries", s, ""): n for s, n in zip(stages, (2, 2, 1, 0, 0), strict=True)},
        **{("users_in_stage", s, ""): n for s, n in zip(stages, (1, 1, 1, 0, 0), strict=True)},
        ("events", "all", "event_type=login"): 3,
        ("events", "Activation", "event_type=lifecycle.stage_changed"): 1,
        ("runs_started", "all", f"journey_id={j}"): 2,
        ("runs_started", "all", f"journey_id={k}"): 1,
        ("runs_completed", "all", f"journey_id={j}"): 1,
        ("runs_failed", "all", f"journey_id={j}"): 1,
        ("runs_cancelled", "all", f"journey_id={k}"): 1,
        ("runs_goal_reached", "all", f"journey_id={j}"): 1,
    }
    assert stored == {key: Decimal(value) for key, value in expected.items()}


def test_rerunning_a_day_replaces_only_its_rows(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        data = Data(session)
        seed(data)
        session.commit()
        next_day = rollup_day(session, day=date(2026, 3, 11))
        rollup_day(session, day=DAY)
        first = rows(session, DAY)
        assert rollup_day(session, day=DAY) == 18  # a plain re-run: the same rows
        assert rows(session, DAY) == first

        data.event("c", "login", "2026-03-10 23:30")
        session.commit()
        rollup_day(session, day=DAY)
        again = rows(session, DAY)
        assert again[("events", "all", "event_type=login")] == 4
        assert {key: value for key, value in again.items() if key[0] != "events"} == {
            key: value for key, value in first.items() if key[0] != "events"
        }
        assert len(rows(session, date(2026, 3, 11))) == next_day  # the other day is untouched
        listed = daily_metrics(session, start=DAY, end=DAY, metric="events")
        assert [(r.lifecycle_stage, r.metric_value) for r in listed] == [
            ("Activation", 1),
            ("all", 4),
        ]

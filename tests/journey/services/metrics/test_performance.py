"""Journey performance on both databases, against runs written by hand.

Journey J (goal set), runs started 2026-03-10 10:00 unless said otherwise:

| run | status | length | goal | nodes (entered/completed/failed, variant) |
|---|---|---|---|---|
| r1 | completed | 60 s | yes | split 1/1/0 A, mail_a 1/1/0, done 1/1/0 |
| r2 | completed | 120 s | no | split 1/1/0 B, mail_b 1/0/1, done 1/1/0 |
| r3 | completed | 30 s | yes | split 1/1/0 A, mail_a 1/1/0, done 1/1/0 |
| r4 | failed | 10 s | no | split 1/1/0 B, mail_b 1/0/1 |
| r5 | cancelled | 20 s | no | split 1/1/0 A, wait 1/0/0 |
| r6 | running | — | — | — |
| r7 | pending | — | — | — |
| r8 | completed, v0.9.0, started 03-01 | 300 s | — (recorded before 0005) | — |

plus a completed run of another journey K, which must not count.
"""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from journey.services.metrics.performance import workflow_performance
from tests.journey.services.metrics.data import Data

START = "2026-03-10 10:00"


def seed(data: Data) -> uuid.UUID:
    data.user("u1", "2026-01-01")
    journey, other = data.journey("J"), data.journey("K")
    split_a, split_b = ("split", "split", 1, 1, 0, "A"), ("split", "split", 1, 1, 0, "B")
    done = ("done", "end", 1, 1, 0, None)
    mail_a, mail_b = ("mail_a", "email", 1, 1, 0, None), ("mail_b", "email", 1, 0, 1, None)
    data.run(
        journey,
        "u1",
        "completed",
        START,
        "2026-03-10 10:01",
        goal=True,
        nodes=(split_a, mail_a, done),
    )
    data.run(
        journey,
        "u1",
        "completed",
        START,
        "2026-03-10 10:02",
        goal=False,
        nodes=(split_b, mail_b, done),
    )
    data.run(
        journey,
        "u1",
        "completed",
        START,
        "2026-03-10 10:00:30",
        goal=True,
        nodes=(split_a, mail_a, done),
    )
    data.run(
        journey, "u1", "failed", START, "2026-03-10 10:00:10", goal=False, nodes=(split_b, mail_b)
    )
    data.run(
        journey,
        "u1",
        "cancelled",
        START,
        "2026-03-10 10:00:20",
        goal=False,
        nodes=(split_a, ("wait", "wait_for_event", 1, 0, 0, None)),
    )
    data.run(journey, "u1", "running", START)
    data.run(journey, "u1", "pending", START)
    data.run(journey, "u1", "completed", "2026-03-01 10:00", "2026-03-01 10:05", version="0.9.0")
    data.run(other, "u1", "completed", START, "2026-03-10 11:00", goal=True, nodes=(split_a,))
    return journey


@pytest.fixture
def journey(session_factory: sessionmaker[Session]) -> uuid.UUID:
    with session_factory() as session:
        journey_id = seed(Data(session))
        session.commit()
    return journey_id


def test_every_run_of_the_journey(
    session_factory: sessionmaker[Session], journey: uuid.UUID
) -> None:
    with session_factory() as session:
        report = workflow_performance(session, journey_id=journey)
    assert report.runs == 8
    assert report.runs_by_status == {
        "pending": 1,
        "running": 1,
        "completed": 4,
        "failed": 1,
        "cancelled": 1,
    }
    assert report.completion_rate == 4 / 6
    # Completed: 60, 120, 30, 300 s -> sorted 30 60 120 300; ranks ceil(2)=2 and ceil(3.8)=4.
    assert (report.duration.runs, report.duration.p50_seconds, report.duration.p95_seconds) == (
        4,
        60.0,
        300.0,
    )
    assert (report.goal.evaluated, report.goal.reached, report.goal.rate) == (5, 2, 2 / 5)
    nodes = {n.node_id: (n.type, n.runs, n.entered, n.completed, n.failed) for n in report.nodes}
    assert nodes == {
        "split": ("split", 5, 5, 5, 0),
        "mail_a": ("email", 2, 2, 2, 0),
        "mail_b": ("email", 2, 2, 0, 2),
        "done": ("end", 3, 3, 3, 0),
        "wait": ("wait_for_event", 1, 1, 0, 0),
    }
    variants = [
        (v.node_id, v.variant, v.runs, v.goal_evaluated, v.goal_reached, v.goal_rate)
        for v in report.variants
    ]
    assert variants == [("split", "A", 3, 3, 2, 2 / 3), ("split", "B", 2, 2, 0, 0.0)]


def test_filters_by_version_and_start_day(
    session_factory: sessionmaker[Session], journey: uuid.UUID
) -> None:
    with session_factory() as session:
        old = workflow_performance(session, journey_id=journey, version="0.9.0")
        later = workflow_performance(session, journey_id=journey, start=date(2026, 3, 5))
        day = workflow_performance(
            session, journey_id=journey, start=date(2026, 3, 1), end=date(2026, 3, 1)
        )
    assert (old.runs, old.duration.p50_seconds, old.nodes, old.variants) == (1, 300.0, [], [])
    assert (old.goal.evaluated, old.goal.rate, old.completion_rate) == (0, None, 1.0)
    # Without r8: completed 60, 120, 30 -> p50 rank 2 = 60, p95 rank ceil(2.85) = 3 = 120.
    assert (later.runs, later.duration.p50_seconds, later.duration.p95_seconds) == (7, 60.0, 120.0)
    assert later.runs_by_status["completed"] == 3
    assert day.runs == 1 and day.runs_by_status["completed"] == 1


def test_a_journey_without_runs(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        journey = Data(session).journey("empty")
        session.commit()
        report = workflow_performance(session, journey_id=journey)
    assert report.runs == 0 and report.completion_rate is None
    assert report.duration.p50_seconds is None and report.goal.rate is None

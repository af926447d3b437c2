"""Segment conversion on both databases: window edges, goals before joining, other segments.

Segment S; members joined (evaluated_at) and their Activation entries:

- m1: joined 03-01 10:00; Activation 03-05 10:00 (4 days later)
- m2: joined 03-01 10:00; Activation 03-08 10:00 (exactly 7 days)
- m3: joined 03-01 10:00; Activation 03-08 10:00:01 (7 days and a second)
- m4: joined 03-10; Activation 03-09 (before joining)
- m5: joined 03-01 10:00; Activation 02-28 and 03-03 10:00 (2 days after joining)

n1 (a member of another segment only) enters Activation 03-02 and must not count.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from dsl.stages import LifecycleStage
from journey.services.metrics.goals import Goal
from journey.services.metrics.segments import segment_conversion
from tests.journey.services.metrics.data import Data

JOINED = "2026-03-01 10:00"
ACTIVATION = Goal(stage=LifecycleStage.ACTIVATION)


@pytest.fixture
def segment(session_factory: sessionmaker[Session]) -> uuid.UUID:
    with session_factory() as session:
        data = Data(session)
        segment, other = data.segment("S"), data.segment("other")
        for user, joined, entries in [
            ("m1", JOINED, ["2026-03-05 10:00"]),
            ("m2", JOINED, ["2026-03-08 10:00"]),
            ("m3", JOINED, ["2026-03-08 10:00:01"]),
            ("m4", "2026-03-10", ["2026-03-09"]),
            ("m5", JOINED, ["2026-02-28", "2026-03-03 10:00"]),
        ]:
            data.user(user, "2026-01-01")
            data.member(segment, user, joined)
            for when in entries:
                data.move(user, "Activation", when)
        data.user("n1", "2026-01-01")
        data.member(other, "n1", JOINED)
        data.move("n1", "Activation", "2026-03-02")
        data.event("m1", "purchase", "2026-03-02")
        data.event("m2", "purchase.refund", "2026-03-02")
        data.event("m3", "purchase", "2026-02-01")
        data.event(None, "purchase", "2026-03-02")
        session.commit()
    return segment


def test_stage_goal_within_seven_days(
    session_factory: sessionmaker[Session], segment: uuid.UUID
) -> None:
    with session_factory() as session:
        report = segment_conversion(
            session, segment_id=segment, goal=ACTIVATION, window=timedelta(days=7)
        )
    assert (report.members, report.converted, report.conversion_rate) == (5, 3, 3 / 5)
    assert report.median_seconds == 4 * 86_400  # delays 2, 4 and 7 days
    assert report.model_dump(mode="json")["window"] == "P7D"


@pytest.mark.parametrize(
    ("window", "converted"),
    [(timedelta(days=3), 1), (timedelta(days=30), 4), (timedelta(days=7, seconds=1), 4)],
)
def test_the_window_decides(
    session_factory: sessionmaker[Session], segment: uuid.UUID, window: timedelta, converted: int
) -> None:
    with session_factory() as session:
        report = segment_conversion(session, segment_id=segment, goal=ACTIVATION, window=window)
    assert report.converted == converted


def test_event_goal_counts_that_exact_type(
    session_factory: sessionmaker[Session], segment: uuid.UUID
) -> None:
    with session_factory() as session:
        report = segment_conversion(
            session, segment_id=segment, goal=Goal(event="purchase"), window=timedelta(days=7)
        )
    assert (report.members, report.converted) == (5, 1)  # m1 only


def test_an_empty_segment(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        empty = Data(session).segment("empty")
        session.commit()
        report = segment_conversion(
            session, segment_id=empty, goal=ACTIVATION, window=timedelta(days=7)
        )
    assert (report.members, report.converted, report.conversion_rate) == (0, 0, None)

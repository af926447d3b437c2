"""The lifecycle funnel on both databases, against a scenario counted by hand.

Range 2026-03-01..2026-03-31. Per user (created; stage entries):

- a: 03-02; Activation 03-05, Retention 03-10
- b: 03-03; Activation 03-04, Revenue 03-20 (skips Retention)
- c: 02-20 (before the range); Retention 03-01 00:00 (first instant), Activation 03-06
- d: 03-31 23:59:59 (last instant); Activation 04-01 00:00 (outside)
- e: 03-15; Activation 03-16, Acquisition 03-20, Activation 03-25 (re-entries count once)
- f: 01-01; nothing in the range
- g: 03-10; Activation 03-11, Retention 03-12, Revenue 03-13, Referral 03-14
- h: 03-20 10:00; Activation 03-20 10:00 (the same instant converts)
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from itertools import pairwise

from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from dsl.stages import LIFECYCLE_STAGES
from journey.services.metrics.funnel import FunnelReport, lifecycle_funnel
from tests.journey.services.metrics.data import Data

MARCH = {"start": date(2026, 3, 1), "end": date(2026, 3, 31)}


def scenario(data: Data) -> None:
    for user, created in [
        ("a", "2026-03-02"),
        ("b", "2026-03-03"),
        ("c", "2026-02-20"),
        ("d", "2026-03-31 23:59:59"),
        ("e", "2026-03-15"),
        ("f", "2026-01-01"),
        ("g", "2026-03-10"),
        ("h", "2026-03-20 10:00"),
    ]:
        data.user(user, created)
    for user, stage, when in [
        ("a", "Activation", "2026-03-05"),
        ("a", "Retention", "2026-03-10"),
        ("b", "Activation", "2026-03-04"),
        ("b", "Revenue", "2026-03-20"),
        ("c", "Retention", "2026-03-01 00:00"),
        ("c", "Activation", "2026-03-06"),
        ("d", "Activation", "2026-04-01 00:00"),
        ("e", "Activation", "2026-03-16"),
        ("e", "Acquisition", "2026-03-20"),
        ("e", "Activation", "2026-03-25"),
        ("g", "Activation", "2026-03-11"),
        ("g", "Retention", "2026-03-12"),
        ("g", "Revenue", "2026-03-13"),
        ("g", "Referral", "2026-03-14"),
        ("h", "Activation", "2026-03-20 10:00"),
    ]:
        data.move(user, stage, when)


def table(report: FunnelReport) -> list[tuple[str, int, int | None, float | None]]:
    return [(s.stage.value, s.entered, s.converted, s.conversion_rate) for s in report.stages]


def test_entries_and_conversions_by_hand(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        scenario(Data(session))
        session.commit()
        report = lifecycle_funnel(session, **MARCH)
    assert table(report) == [
        ("Acquisition", 6, 5, 5 / 6),  # a b d e g h; d's Activation is outside
        ("Activation", 6, 2, 2 / 6),  # a b c e g h; a g went on (c's Retention came first)
        ("Retention", 3, 1, 1 / 3),  # a c g; g
        ("Revenue", 2, 1, 1 / 2),  # b g; g
        ("Referral", 1, None, None),  # g
    ]
    assert report.stages[0].next_stage is not None
    assert report.stages[-1].next_stage is None


def test_only_segment_members_count(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        data = Data(session)
        scenario(data)
        members, others = data.segment("members"), data.segment("others")
        for user in ("a", "c", "g"):
            data.member(members, user, "2026-01-01")
        data.member(others, "b", "2026-01-01")
        session.commit()
        report = lifecycle_funnel(session, segment_id=members, **MARCH)
    assert table(report) == [
        ("Acquisition", 2, 2, 1.0),  # a g
        ("Activation", 3, 2, 2 / 3),  # a c g
        ("Retention", 3, 1, 1 / 3),
        ("Revenue", 1, 1, 1.0),
        ("Referral", 1, None, None),
    ]


def test_range_ends_are_inclusive_days(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        scenario(Data(session))
        session.commit()
        april = lifecycle_funnel(session, start=date(2026, 4, 1), end=date(2026, 4, 1))
        before = lifecycle_funnel(session, start=date(2026, 2, 28), end=date(2026, 2, 28))
    assert [s.entered for s in april.stages] == [0, 1, 0, 0, 0]  # d at 04-01 00:00
    assert [s.entered for s in before.stages] == [0, 0, 0, 0, 0]
    assert april.stages[0].conversion_rate is None  # nobody entered: no rate


def reference(
    entries: list[tuple[str, str, date]], start: date, end: date
) -> list[tuple[int, int]]:
    """The definition, written out naively over (user, stage, day) entries."""
    inside = [(u, s, d) for u, s, d in entries if start <= d <= end]
    result = []
    for stage, following in [*pairwise(LIFECYCLE_STAGES), (LIFECYCLE_STAGES[-1], None)]:
        users = {u for u, s, _ in inside if s == stage}
        converted = {
            u
            for u in users
            if any(
                u2 == u
                and s2 == following
                and d2 >= min(d for uu, ss, d in inside if uu == u and ss == stage)
                for u2, s2, d2 in inside
            )
        }
        result.append((len(users), len(converted)))
    return result


def test_generated_data_matches_the_definition(session_factory: sessionmaker[Session]) -> None:
    rng = random.Random(7)
    entries: list[tuple[str, str, date]] = []
    first = date(2026, 1, 1)
    with session_factory() as session:
        data = Data(session)
        for n in range(60):
            user = f"u{n}"
            created = first + timedelta(days=rng.randrange(90))
            data.user(user, created.isoformat())
            entries.append((user, "Acquisition", created))
            day = created
            for _ in range(rng.randrange(5)):
                day += timedelta(days=rng.randrange(0, 20))
                stage = rng.choice(LIFECYCLE_STAGES)
                data.move(user, stage, f"{day.isoformat()} 12:00")
                entries.append((user, stage, day))
        session.commit()
        start, end = date(2026, 2, 1), date(2026, 3, 15)
        report = lifecycle_funnel(session, start=start, end=end)
    expected = reference(entries, start, end)
    assert [(s.entered, s.converted or 0) for s in report.stages[:-1]] == [
        (entered, converted) for entered, converted in expected[:-1]
    ]
    assert report.stages[-1].entered == expected[-1][0]
    assert sum(e for e, _ in expected) > 20  # the sample is not trivially empty

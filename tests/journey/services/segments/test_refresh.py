"""The refresh's data functions on both databases: diffs by SQL, idempotent application,
renewal, and event ids that do not change when a step is retried."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from confluent_kafka import Producer
from sqlmodel import col, select

from activities.segments import SegmentActivities
from journey.contracts.segments import SegmentChanges, SegmentChangesInput
from journey.core.config import Settings
from journey.core.db.engine import SessionFactory
from journey.core.db.models import User, UserSegment, UserSegmentMembership
from journey.services.segments import refresh, service
from journey.services.segments.rules import parse_condition

PRO = {"field": "user.attributes.plan", "op": "eq", "value": "pro"}
AT = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
UNTIL = AT + timedelta(days=1)


@pytest.fixture
def segment(session_factory: SessionFactory) -> UserSegment:
    with session_factory() as session:
        for user_id, plan in (("ann", "pro"), ("bob", "pro"), ("cat", "free")):
            session.add(User(id=user_id, attributes={"plan": plan}))
        session.commit()
        definition = service.Definition(parse_condition(PRO))
        return service.create_segment(session, name="Pro", description=None, definition=definition)


def changes(sessions: SessionFactory, row: UserSegment, limit: int = 100) -> refresh.Changes:
    with sessions() as session:
        return refresh.pending_changes(
            session, segment_id=row.id, definition=service.definition_of(row), limit=limit
        )


def apply(sessions: SessionFactory, row: UserSegment, found: refresh.Changes) -> None:
    with sessions() as session:
        refresh.apply_changes(
            session,
            segment_id=row.id,
            entered=found.entered,
            exited=found.exited,
            evaluated_at=AT,
            valid_until=UNTIL,
        )


def cached(sessions: SessionFactory, row: UserSegment) -> list[UserSegmentMembership]:
    with sessions() as session:
        query = select(UserSegmentMembership).where(col(UserSegmentMembership.segment_id) == row.id)
        return list(session.exec(query.order_by(col(UserSegmentMembership.user_id))).all())


def set_plan(sessions: SessionFactory, user_id: str, plan: str) -> None:
    with sessions() as session:
        user = session.get(User, user_id)
        assert user is not None
        user.attributes = {"plan": plan}
        session.add(user)
        session.commit()


def test_changes_are_diffs_between_sql_members_and_the_cache(
    session_factory: SessionFactory, segment: UserSegment
) -> None:
    first = changes(session_factory, segment)
    assert (first.entered, first.exited) == (["ann", "bob"], [])
    assert changes(session_factory, segment, limit=1).entered == ["ann"]
    apply(session_factory, segment, first)
    assert changes(session_factory, segment).empty
    rows = cached(session_factory, segment)
    assert [(r.user_id, r.evaluated_at, r.valid_until) for r in rows] == [
        ("ann", AT, UNTIL),
        ("bob", AT, UNTIL),
    ]

    set_plan(session_factory, "bob", "free")
    set_plan(session_factory, "cat", "pro")
    second = changes(session_factory, segment)
    assert (second.entered, second.exited) == (["cat"], ["bob"])
    apply(session_factory, segment, second)
    apply(session_factory, segment, second)  # a retried step: nothing more happens
    assert [r.user_id for r in cached(session_factory, segment)] == ["ann", "cat"]
    assert changes(session_factory, segment).empty


def test_applying_skips_users_deleted_meanwhile(
    session_factory: SessionFactory, segment: UserSegment
) -> None:
    found = changes(session_factory, segment)
    with session_factory() as session:
        user = session.get(User, "bob")
        session.delete(user)
        session.commit()
    apply(session_factory, segment, found)
    assert [r.user_id for r in cached(session_factory, segment)] == ["ann"]


def test_renew_extends_every_cached_row_and_keeps_the_entry_time(
    session_factory: SessionFactory, segment: UserSegment
) -> None:
    apply(session_factory, segment, changes(session_factory, segment))
    later = AT + timedelta(hours=1)
    with session_factory() as session:
        renewed = refresh.renew(
            session, segment_id=segment.id, valid_until=refresh.valid_until(later, 60)
        )
    assert renewed == 2
    # evaluated_at stays when the users entered: conversion windows count from it.
    assert {(r.evaluated_at, r.valid_until) for r in cached(session_factory, segment)} == {
        (AT, later + timedelta(seconds=60))
    }


def test_event_ids_depend_only_on_the_change_and_the_step() -> None:
    segment = UserSegment(id=uuid.uuid4(), name="Pro", conditions={})

    def ids(event_key: str) -> list[str]:
        events = refresh.segment_events(
            segment=segment, entered=["ann"], exited=["bob"], event_key=event_key, timestamp=AT
        )
        return [event.id for event in events]

    assert ids("run-1/0") == ids("run-1/0")  # a retried step publishes the same ids
    assert len(set(ids("run-1/0")) | set(ids("run-1/1")) | set(ids("run-2/0"))) == 6
    events = refresh.segment_events(
        segment=segment, entered=["ann"], exited=["bob"], event_key="k", timestamp=AT
    )
    assert [(e.type, e.user_id, e.properties) for e in events] == [
        ("segment.entered", "ann", {"segment_id": str(segment.id), "segment_name": "Pro"}),
        ("segment.exited", "bob", {"segment_id": str(segment.id), "segment_name": "Pro"}),
    ]
    assert events[0].id == refresh.event_id(
        "segment.entered", segment_id=str(segment.id), user_id="ann", event_key="k"
    )


def test_a_segment_stored_with_invalid_conditions_is_skipped(
    session_factory: SessionFactory,
) -> None:
    with session_factory() as session:
        row = UserSegment(name="legacy", conditions={"field": "vars.x", "op": "exists"})
        session.add(row)
        session.commit()
        segment_id = str(row.id)
    settings = Settings.model_construct(segment_refresh_batch_size=10)
    activities = SegmentActivities(settings, session_factory, Producer({}))
    answer = activities.segment_changes(SegmentChangesInput(segment_id=segment_id))
    assert answer == SegmentChanges(found=False)

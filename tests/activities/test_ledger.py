"""The effect ledger on both databases: a re-run with the same effect key changes nothing."""

from __future__ import annotations

import pytest
from sqlmodel import func, select
from temporalio.testing import ActivityEnvironment

from activities.profiles import ProfileActivities
from journey.contracts.actions import LifecycleTransitionInput, UpdateAttributesInput
from journey.core.db.engine import SessionFactory
from journey.core.db.models import Delivery, User, UserLifecycleHistory
from journey.core.ledger import Ledger
from tests.activities.helpers import make_context, make_meta


@pytest.fixture
def profiles(session_factory: SessionFactory) -> ProfileActivities:
    with session_factory() as session:
        session.add(User(id="u1", email="u1@example.com", attributes={"logins": 1}))
        session.commit()
    return ProfileActivities(session_factory)


def count(session_factory: SessionFactory, model: type) -> int:
    with session_factory() as session:
        return session.exec(select(func.count()).select_from(model)).one()


def test_an_increment_rerun_with_its_key_is_applied_once(
    profiles: ProfileActivities, session_factory: SessionFactory
) -> None:
    request = UpdateAttributesInput(
        meta=make_meta(),
        operations=[{"op": "increment", "path": "logins", "by": 5}],
        context=make_context(),
    )
    first = ActivityEnvironment().run(profiles.update_attributes, request)
    rerun = ActivityEnvironment().run(profiles.update_attributes, request)
    assert first.attributes == rerun.attributes == {"logins": 6}
    with session_factory() as session:
        user = session.get(User, "u1")
        assert user is not None and user.attributes == {"logins": 6}
        delivery = session.get(Delivery, request.meta.effect_key)
    assert delivery is not None
    assert (delivery.kind, delivery.outcome, delivery.node_id) == (
        "update_attributes",
        "delivered",
        "n1",
    )
    # A different key (the next iteration of the node) is a new effect.
    again = request.model_copy(update={"meta": make_meta()})
    assert ActivityEnvironment().run(profiles.update_attributes, again).attributes == {"logins": 11}


def test_a_transition_rerun_writes_one_history_row(
    profiles: ProfileActivities, session_factory: SessionFactory
) -> None:
    request = LifecycleTransitionInput(meta=make_meta(), stage="Activation", reason="test")
    first = ActivityEnvironment().run(profiles.lifecycle_transition, request)
    rerun = ActivityEnvironment().run(profiles.lifecycle_transition, request)
    assert first == rerun
    assert (first.from_stage, first.to_stage, first.changed) == ("Acquisition", "Activation", True)
    assert count(session_factory, UserLifecycleHistory) == 1


def test_a_transition_to_the_current_stage_is_recorded_as_a_noop(
    profiles: ProfileActivities, session_factory: SessionFactory
) -> None:
    request = LifecycleTransitionInput(meta=make_meta(), stage="Acquisition", reason=None)
    result = ActivityEnvironment().run(profiles.lifecycle_transition, request)
    assert result.changed is False
    assert count(session_factory, UserLifecycleHistory) == 0
    recorded = Ledger(session_factory).lookup(request.meta.effect_key)
    assert recorded is not None and recorded.outcome == "noop"


def test_recording_a_key_twice_keeps_the_first_record(session_factory: SessionFactory) -> None:
    ledger = Ledger(session_factory)
    first = ledger.record("k1", kind="webhook", outcome="delivered", result={"status": 200})
    second = ledger.record("k1", kind="webhook", outcome="delivered", result={"status": 500})
    assert second == first
    assert ledger.lookup("k1") == first
    assert ledger.lookup("unknown") is None

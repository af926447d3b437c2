"""Profile activities on both databases: load/create, attribute operations, stage transitions."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from uuid import uuid4

import pytest
from sqlmodel import select
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.profiles import STAGE_CHANGED_EVENT, ProfileActivities
from journey.contracts.actions import (
    ATTRIBUTE_TYPE_ERROR,
    INVALID_OPERATION,
    INVALID_STAGE,
    TEMPLATE_ERROR,
    UNKNOWN_USER,
    LifecycleTransitionInput,
    LoadUserInput,
    UpdateAttributesInput,
    UpdateAttributesResult,
)
from journey.core.config import Settings
from journey.core.db.engine import SessionFactory
from journey.core.db.models import LifecycleEvent, User, UserLifecycleHistory
from journey.core.kafka.clients import ensure_topics, make_producer
from journey.services.lifecycle import stage_event_id
from tests.activities.helpers import assert_non_retryable, make_context, make_meta
from tests.api.test_users import read_events, topic_size
from tests.harness.env import JourneyEnv


@pytest.fixture
def profiles(session_factory: SessionFactory) -> ProfileActivities:
    with session_factory() as session:
        session.add(
            User(
                id="u1",
                email="ada@example.com",
                attributes={"name": "Ada", "stats": {"logins": 2}, "tags": ["beta"]},
            )
        )
        session.commit()
    return ProfileActivities(session_factory)


def stored_attributes(session_factory: SessionFactory, user_id: str = "u1") -> Any:
    with session_factory() as session:
        user = session.get(User, user_id)
        assert user is not None
        return user.attributes


def update(profiles: ProfileActivities, *ops: dict[str, Any], **kw: Any) -> UpdateAttributesResult:
    request = UpdateAttributesInput(
        meta=make_meta(**kw), operations=list(ops), context=make_context(vars={"plan": "pro"})
    )
    return ActivityEnvironment().run(profiles.update_attributes, request)


def test_load_user_returns_snapshot_none_or_creates(profiles: ProfileActivities) -> None:
    env = ActivityEnvironment()
    found = env.run(profiles.load_user, LoadUserInput(user_id="u1"))
    assert found is not None
    assert found.email == "ada@example.com"
    assert found.current_lifecycle_stage == "Acquisition"
    assert found.attributes["stats"] == {"logins": 2}

    assert env.run(profiles.load_user, LoadUserInput(user_id="u2")) is None
    created = env.run(profiles.load_user, LoadUserInput(user_id="u2", create_if_missing=True))
    assert created is not None
    assert (created.id, created.email, created.current_lifecycle_stage) == (
        "u2",
        None,
        "Acquisition",
    )
    assert created.attributes == {}
    again = env.run(profiles.load_user, LoadUserInput(user_id="u2", create_if_missing=True))
    assert again == created


def test_operations_apply_in_order_and_persist(
    profiles: ProfileActivities, session_factory: SessionFactory
) -> None:
    result = update(
        profiles,
        {"op": "set", "path": "billing.plan.name", "value": "{{ vars.plan }}"},
        {"op": "set", "path": "name", "value": "Ada L."},
        {"op": "unset", "path": "stats.logins"},
        {"op": "unset", "path": "no.such.path"},
        {"op": "increment", "path": "stats.sessions", "by": 2},
        {"op": "increment", "path": "stats.sessions", "by": 0.5},
        {"op": "increment", "path": "visits"},
        {"op": "append", "path": "tags", "value": "vip"},
        {"op": "append", "path": "history.steps", "value": {"node": "n1"}},
    )
    expected = {
        "name": "Ada L.",
        "billing": {"plan": {"name": "pro"}},
        "stats": {"sessions": 2.5},
        "visits": 1,
        "tags": ["beta", "vip"],
        "history": {"steps": [{"node": "n1"}]},
    }
    assert result.attributes == expected
    assert stored_attributes(session_factory) == expected


@pytest.mark.parametrize(
    ("failing", "error_type"),
    [
        ({"op": "increment", "path": "name"}, ATTRIBUTE_TYPE_ERROR),
        ({"op": "append", "path": "stats", "value": 1}, ATTRIBUTE_TYPE_ERROR),
        ({"op": "set", "path": "name.first", "value": "A"}, ATTRIBUTE_TYPE_ERROR),
        ({"op": "increment", "path": "stats.logins", "by": "1"}, INVALID_OPERATION),
        ({"op": "rename", "path": "name"}, INVALID_OPERATION),
        ({"op": "set", "path": "a..b", "value": 1}, INVALID_OPERATION),
        ({"op": "set", "path": "x", "value": "{{ vars.nope }}"}, TEMPLATE_ERROR),
    ],
)
def test_a_failing_operation_applies_nothing(
    profiles: ProfileActivities,
    session_factory: SessionFactory,
    failing: dict[str, Any],
    error_type: str,
) -> None:
    before = stored_attributes(session_factory)
    with pytest.raises(ApplicationError) as info:
        update(
            profiles,
            {"op": "set", "path": "first", "value": 1},
            failing,
            {"op": "set", "path": "last", "value": 2},
        )
    assert_non_retryable(info, error_type)
    assert stored_attributes(session_factory) == before


def test_update_of_unknown_user_is_non_retryable(profiles: ProfileActivities) -> None:
    with pytest.raises(ApplicationError) as info:
        update(profiles, {"op": "set", "path": "a", "value": 1}, user_id="ghost")
    assert_non_retryable(info, UNKNOWN_USER)


def transition(
    profiles: ProfileActivities, stage: str, user_id: str = "u1", reason: str | None = None
) -> Any:
    request = LifecycleTransitionInput(
        meta=make_meta(user_id=user_id, node_id="to-stage"), stage=stage, reason=reason
    )
    return ActivityEnvironment().run(profiles.lifecycle_transition, request), request


def test_transition_updates_stage_and_writes_history_and_audit(
    profiles: ProfileActivities, session_factory: SessionFactory
) -> None:
    result, request = transition(profiles, "Activation", reason="completed onboarding")
    assert (result.from_stage, result.to_stage, result.changed) == (
        "Acquisition",
        "Activation",
        True,
    )
    with session_factory() as session:
        user = session.get(User, "u1")
        assert user is not None
        assert user.current_lifecycle_stage == "Activation"
        [history] = session.exec(select(UserLifecycleHistory)).all()
        assert (history.user_id, history.from_stage, history.to_stage) == (
            "u1",
            "Acquisition",
            "Activation",
        )
        assert history.workflow_execution_id is None
        assert history.metadata_ is not None
        assert history.metadata_["journey_id"] == "j-onboarding"
        assert history.metadata_["workflow_id"] == request.meta.workflow_id
        assert history.metadata_["run_id"] == request.meta.run_id
        assert history.metadata_["node_id"] == "to-stage"
        assert history.metadata_["reason"] == "completed onboarding"
        [audit] = session.exec(
            select(LifecycleEvent).where(LifecycleEvent.event_type == STAGE_CHANGED_EVENT)
        ).all()
        assert (audit.user_id, audit.lifecycle_stage) == ("u1", "Activation")
        assert audit.event_data is not None
        assert audit.event_data["from_stage"] == "Acquisition"
        assert audit.event_data["to_stage"] == "Activation"
        assert (audit.event_data["source"], history.metadata_["source"]) == ("journey", "journey")
        assert audit.event_id == stage_event_id(request.meta.effect_key)


def test_transition_to_current_stage_is_a_no_op(
    profiles: ProfileActivities, session_factory: SessionFactory
) -> None:
    result, _ = transition(profiles, "Acquisition")
    assert (result.from_stage, result.to_stage, result.changed) == (
        "Acquisition",
        "Acquisition",
        False,
    )
    transition(profiles, "Retention")
    second, _ = transition(profiles, "Retention")
    assert second.changed is False
    with session_factory() as session:
        assert len(session.exec(select(UserLifecycleHistory)).all()) == 1
        assert len(session.exec(select(LifecycleEvent)).all()) == 1


def test_transition_errors_are_non_retryable(profiles: ProfileActivities) -> None:
    with pytest.raises(ApplicationError) as info:
        transition(profiles, "Activation", user_id="ghost")
    assert_non_retryable(info, UNKNOWN_USER)
    with pytest.raises(ApplicationError) as info:
        transition(profiles, "Churned")
    assert_non_retryable(info, INVALID_STAGE)


@pytest.fixture
def publishing(
    profiles: ProfileActivities,  # noqa: ARG001 (for its side effect: it seeds the user u1)
    session_factory: SessionFactory,
    journey_env: JourneyEnv,
) -> Iterator[tuple[ProfileActivities, Settings]]:
    """Profile activities that announce stage changes on a fresh events topic."""
    topic = f"events-{uuid4().hex[:8]}"
    settings = journey_env.settings.model_copy(update={"kafka_events_topic": topic})
    ensure_topics(settings, [topic])
    producer = make_producer(settings)
    yield ProfileActivities(session_factory, producer=producer, events_topic=topic), settings
    producer.flush(5)


def test_a_transition_is_announced_under_its_effect_key(
    publishing: tuple[ProfileActivities, Settings],
) -> None:
    activities, settings = publishing
    result, request = transition(activities, "Revenue", reason="paid")
    assert result.changed
    [(key, event)] = read_events(settings, 1)
    assert key == b"u1"
    assert (event["id"], event["type"], event["user_id"]) == (
        stage_event_id(request.meta.effect_key),
        STAGE_CHANGED_EVENT,
        "u1",
    )
    assert event["properties"] == {
        "from_stage": "Acquisition",
        "to_stage": "Revenue",
        "reason": "paid",
        "source": "journey",
    }

    # A retry that finds the ledger record (its first attempt may have missed the broker's
    # ack) announces again, with the same id and content; consumers dedupe by id.
    assert ActivityEnvironment().run(activities.lifecycle_transition, request) == result
    events = read_events(settings, 2)
    assert [e for _, e in events] == [event, event]

    unchanged, _ = transition(activities, "Revenue")  # a no-op announces nothing
    assert not unchanged.changed
    assert topic_size(settings) == 2

"""journey.lifecycle: the shared stage change (both databases), time in stages, the stage limit,
and the stage-changed event end to end: journeys and the API move users, the real consumer
reads the event and a trigger on `lifecycle.stage_changed` starts a journey."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio
from pydantic import SecretStr
from sqlmodel import select

from api.auth import Role, create_token
from api.main import create_app
from dsl.document import JourneyDocument
from dsl.events import EventEnvelope
from journey.core.config import Settings
from journey.core.db.engine import SessionFactory
from journey.core.db.models import LifecycleEvent, User, UserLifecycleHistory, WorkflowExecution
from journey.services.lifecycle import (
    STAGE_CHANGED_EVENT,
    UnknownStage,
    stage_event,
    stage_event_id,
    stage_limit_reason,
    time_in_stages,
    transition_stage,
)
from tests.harness.env import JourneyEnv
from tests.journey.ingest.conftest import END_ONLY, IngestStack, ingest_stack

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def hours(n: float) -> datetime:
    return T0 + timedelta(hours=n)


def test_time_in_stages_counts_each_span_and_the_current_stage_until_now() -> None:
    history = [
        UserLifecycleHistory(
            user_id="u", from_stage="Acquisition", to_stage="Revenue", transitioned_at=hours(1)
        ),
        UserLifecycleHistory(
            user_id="u", from_stage="Revenue", to_stage="Referral", transitioned_at=hours(4)
        ),
    ]
    times = time_in_stages(created_at=T0, current_stage="Referral", history=history, now=hours(10))
    assert [(t.stage, t.seconds, t.visits) for t in times] == [
        ("Acquisition", 3600, 1),
        ("Activation", 0, 0),
        ("Retention", 0, 0),
        ("Revenue", 3 * 3600, 1),
        ("Referral", 6 * 3600, 1),
    ]
    never_moved = time_in_stages(
        created_at=T0, current_stage="Acquisition", history=[], now=hours(2)
    )
    assert never_moved[0].seconds == 7200
    # Imported history older than the profile, and a first row without from_stage.
    odd = [
        UserLifecycleHistory(
            user_id="u",
            from_stage=None,
            to_stage="Activation",
            transitioned_at=T0 - timedelta(days=1),
        )
    ]
    clamped = time_in_stages(created_at=T0, current_stage="Activation", history=odd, now=hours(1))
    assert {t.stage: t.seconds for t in clamped if t.seconds} == {"Activation": 25 * 3600}


def document(**fields: Any) -> JourneyDocument:
    return JourneyDocument.model_validate({**END_ONLY, **fields})


def test_the_stage_limit_is_opt_in() -> None:
    limited = document(lifecycle_stages=["Revenue", "Referral"], restrict_to_stages=True)
    assert stage_limit_reason(limited, "Referral") is None
    assert stage_limit_reason(limited, "Retention") == (
        "user stage Retention not in the journey's stages [Revenue, Referral]"
    )
    assert stage_limit_reason(limited, None) == (  # no profile yet: created in Acquisition
        "user stage Acquisition not in the journey's stages [Revenue, Referral]"
    )
    assert stage_limit_reason(document(lifecycle_stages=["Revenue"]), "Retention") is None
    assert stage_limit_reason(document(restrict_to_stages=True), "Retention") is None
    assert stage_limit_reason(None, "Retention") is None


def test_transition_stage_changes_history_and_audit_without_committing(
    session_factory: SessionFactory,
) -> None:
    with session_factory() as session:
        session.add(User(id="ada"))
        session.commit()
    with session_factory() as session:
        user = session.get(User, "ada")
        assert user is not None
        with pytest.raises(UnknownStage):
            transition_stage(
                session, user=user, to_stage="Churned", reason=None, details={}, source="api"
            )
        same = transition_stage(
            session, user=user, to_stage="Acquisition", reason=None, details={}, source="api"
        )
        assert (same.changed, same.history, same.event) == (False, None, None)
        keyed = transition_stage(
            session,
            user=user,
            to_stage="Revenue",
            reason="paid",
            details={"actor": "x"},
            source="journey",
            event_key="k-1",
        )
        session.rollback()  # nothing was committed inside
    with session_factory() as session:
        assert session.exec(select(UserLifecycleHistory)).all() == []
        assert session.exec(select(LifecycleEvent)).all() == []
        user = session.get(User, "ada")
        assert user is not None and user.current_lifecycle_stage == "Acquisition"
    assert keyed.event is not None and keyed.event.id == stage_event_id("k-1")

    with session_factory() as session:
        user = session.get(User, "ada")
        assert user is not None
        change = transition_stage(
            session,
            user=user,
            to_stage="Revenue",
            reason="paid",
            details={"actor": "x"},
            source="api",
        )
        session.commit()
    assert change.history is not None and change.event is not None
    with session_factory() as session:
        [history] = session.exec(select(UserLifecycleHistory)).all()
        assert history.metadata_ == {"actor": "x", "reason": "paid", "source": "api"}
        # The envelope is rebuilt from the audit row, identically (what a retry publishes).
        assert stage_event(session, change.event.id) == change.event
    assert change.event.properties == {
        "from_stage": "Acquisition",
        "to_stage": "Revenue",
        "reason": "paid",
        "source": "api",
    }


@pytest_asyncio.fixture
async def stack(journey_env: JourneyEnv, migrated_database_url: str) -> AsyncIterator[IngestStack]:
    """Fresh topics and group, a worker, on SQLite and PostgreSQL."""
    async with ingest_stack(journey_env, migrated_database_url) as created:
        yield created


def decided(stack: IngestStack, trigger: str) -> dict[str, tuple[str | None, str | None]]:
    return {row.user_id or "": (row.decision, row.reason) for row in stack.decisions(trigger)}


ACTIVATE = {
    "name": "activate",
    "start": "go",
    "create_missing_profile": True,
    "nodes": [
        {"id": "go", "type": "lifecycle_transition", "stage": "Activation", "next": "end"},
        {"id": "end", "type": "end"},
    ],
}


@asynccontextmanager
async def gateway(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The API in process (as tests/api/conftest.py builds it) on the stack's settings."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://journey") as client:
            yield client


async def test_entering_a_stage_starts_a_journey_through_the_consumer(stack: IngestStack) -> None:
    # Journey A moves users to Activation; B starts for whoever enters Activation.
    activate = stack.trigger(stack.journey(ACTIVATE), create_profile=True)
    entered = stack.trigger(
        stack.journey(),
        event_type=STAGE_CHANGED_EVENT,
        conditions={"field": "event.properties.to_stage", "op": "eq", "value": "Activation"},
    )
    stack.user("api-user")
    stack.user("elsewhere")
    settings = stack.settings.model_copy(update={"jwt_secret": SecretStr("l" * 32)})
    token = create_token(settings, subject="ops", role=Role.operator)
    async with stack.consumer(), gateway(settings) as http:
        stack.produce([EventEnvelope(type="signup", user_id="journey-user")])
        for user_id, stage in (("api-user", "Activation"), ("elsewhere", "Retention")):
            moved = await http.post(
                f"/api/users/{user_id}/lifecycle/transition",
                json={"stage": stage},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert moved.status_code == 200, moved.text
        await stack.wait_for(lambda: len(decided(stack, entered)) == 3, "three stage decisions")
        await stack.wait_for(
            lambda: stack.count(WorkflowExecution, WorkflowExecution.status == "completed") == 3,
            "A and both B runs to complete",
        )
    assert decided(stack, activate) == {"journey-user": ("started", None)}
    decisions = decided(stack, entered)
    assert decisions["journey-user"] == ("started", None)  # the activity's event
    assert decisions["api-user"] == ("started", None)  # the API's event
    assert decisions["elsewhere"][0] == "not_matched"
    with stack.sessions() as session:
        user = session.get(User, "journey-user")
        assert user is not None and user.current_lifecycle_stage == "Activation"
    # One audit row per change: the consumer recognised the envelopes as recorded.
    assert stack.count(LifecycleEvent, LifecycleEvent.event_type == STAGE_CHANGED_EVENT) == 3


async def test_triggers_skip_users_outside_a_restricted_journeys_stages(
    stack: IngestStack,
) -> None:
    limited = {**END_ONLY, "lifecycle_stages": ["Revenue"], "restrict_to_stages": True}
    trigger = stack.trigger(stack.journey(limited), create_profile=True)
    labelled = stack.trigger(stack.journey({**END_ONLY, "lifecycle_stages": ["Revenue"]}))
    stack.user("ada")
    stack.user("rich", current_lifecycle_stage="Revenue")
    events = [EventEnvelope(type="signup", user_id=u) for u in ("ada", "rich", "newcomer")]
    async with stack.consumer() as consumer:
        stack.produce(events)
        await stack.handled(consumer, 3)
    assert decided(stack, trigger) == {
        "ada": ("skipped", "user stage Acquisition not in the journey's stages [Revenue]"),
        "rich": ("started", None),
        "newcomer": ("skipped", "user stage Acquisition not in the journey's stages [Revenue]"),
    }
    # Without restrict_to_stages the stages are a label: everyone with a profile starts.
    assert {user: d for user, (d, _) in decided(stack, labelled).items()} == {
        "ada": "started",
        "rich": "started",
        "newcomer": "started",
    }

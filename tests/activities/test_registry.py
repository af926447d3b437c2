"""Every action activity registers on a real worker and is callable by name from a workflow."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any
from uuid import uuid4

import httpx
import pytest
import pytest_asyncio
from confluent_kafka import Producer
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ActivityError, ApplicationError

from activities.registry import activity_name, build_action_activities
from journey.contracts.actions import (
    ACTION_ACTIVITY_NAMES,
    WEBHOOK_REJECTED,
    CallWebhookInput,
    EmitEventInput,
    LifecycleTransitionInput,
    LoadUserInput,
    SendEmailInput,
    UpdateAttributesInput,
)
from journey.core.config import Settings
from journey.core.db.engine import SessionFactory, create_db_engine, make_session_factory
from journey.core.kafka.clients import make_producer
from tests.activities.helpers import make_context, make_meta
from tests.activities.scenario_workflow import ActionScenarioWorkflow, ScenarioInput
from tests.harness.env import JourneyEnv
from tests.harness.temporal import running_worker


@pytest.fixture
def env_session_factory(settings: Settings) -> Iterator[SessionFactory]:
    engine = create_db_engine(settings.resolved_database_url)
    yield make_session_factory(engine)
    engine.dispose()


@pytest_asyncio.fixture
async def activities(
    settings: Settings, env_session_factory: SessionFactory
) -> AsyncIterator[list[Any]]:
    producer: Producer = make_producer(settings)
    async with httpx.AsyncClient() as http:
        yield build_action_activities(
            settings=settings, session_factory=env_session_factory, http=http, producer=producer
        )
    producer.flush(5)
    producer.close()


def scenario(journey_env: JourneyEnv, webhook_path: str) -> ScenarioInput:
    user_id = f"user-{uuid4().hex[:8]}"
    meta = make_meta(user_id=user_id)

    def step(node: str) -> Any:
        return meta.model_copy(update={"node_id": node, "effect_key": f"{meta.run_id}:{node}:0"})

    context = make_context(vars={"plan": "pro"})
    return ScenarioInput(
        load=LoadUserInput(user_id=user_id, create_if_missing=True),
        update=UpdateAttributesInput(
            meta=step("attrs"),
            operations=[{"op": "set", "path": "plan", "value": "{{ vars.plan }}"}],
            context=context,
        ),
        transition=LifecycleTransitionInput(meta=step("stage"), stage="Activation"),
        webhook=CallWebhookInput(
            meta=step("hook"),
            url=journey_env.http_receiver.url(webhook_path),
            body={"user": user_id},
            context=context,
        ),
        email=SendEmailInput(
            meta=step("mail"), to="ada@example.com", subject="Hi", text="Hello", context=context
        ),
        emit=EmitEventInput(meta=step("emit"), event_type="welcomed", payload={}, context=context),
    )


def test_registry_returns_every_contract_name_once(activities: list[Any]) -> None:
    names = [activity_name(fn) for fn in activities]
    assert sorted(names) == sorted(ACTION_ACTIVITY_NAMES)


async def test_workflow_calls_every_action_by_name(
    journey_env: JourneyEnv, settings: Settings, activities: list[Any], task_queue: str
) -> None:
    # The first webhook attempt fails transiently: the worker's retry must deliver it.
    journey_env.http_receiver.respond("/hook", status=503, headers={"Retry-After": "1"}, times=1)
    journey_env.http_receiver.respond("/hook", json={"ok": 1})
    client = journey_env.temporal_client
    async with running_worker(
        client, task_queue, workflows=[ActionScenarioWorkflow], activities=activities
    ):
        result = await client.execute_workflow(
            ActionScenarioWorkflow.run,
            scenario(journey_env, "/hook"),
            id=f"scenario-{uuid4().hex}",
            task_queue=task_queue,
        )
    assert result.user is not None
    assert result.user.current_lifecycle_stage == "Acquisition"
    assert result.update.attributes == {"plan": "pro"}
    assert (result.transition.to_stage, result.transition.changed) == ("Activation", True)
    assert result.webhook.body == {"ok": 1}
    assert len(journey_env.http_receiver.requests) == 2
    assert result.email.outcome == "sent"
    assert len(await journey_env.smtp_server.wait_for(1)) == 1
    assert result.emit.topic == settings.kafka_emitted_topic


async def test_non_retryable_failure_is_not_retried(
    journey_env: JourneyEnv, activities: list[Any], task_queue: str
) -> None:
    journey_env.http_receiver.respond("/hook", status=404)
    client = journey_env.temporal_client
    async with running_worker(
        client, task_queue, workflows=[ActionScenarioWorkflow], activities=activities
    ):
        with pytest.raises(WorkflowFailureError) as info:
            await client.execute_workflow(
                ActionScenarioWorkflow.run,
                scenario(journey_env, "/hook"),
                id=f"scenario-{uuid4().hex}",
                task_queue=task_queue,
            )
    activity_error = info.value.cause
    assert isinstance(activity_error, ActivityError)
    cause = activity_error.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type == WEBHOOK_REJECTED
    assert cause.non_retryable
    assert len(journey_env.http_receiver.requests) == 1
    assert journey_env.smtp_server.messages == []

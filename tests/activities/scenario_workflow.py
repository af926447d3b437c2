"""A test-only workflow that calls every action activity by name, as the interpreter will.

It lives in an importable module because the workflow sandbox re-imports the defining module;
importing `journey.contracts` inside the sandbox also proves that module stays I/O-free.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from journey.contracts.actions import (
        CALL_WEBHOOK,
        EMIT_EVENT,
        LIFECYCLE_TRANSITION,
        LOAD_USER,
        SEND_EMAIL,
        UPDATE_ATTRIBUTES,
        CallWebhookInput,
        CallWebhookResult,
        EmitEventInput,
        EmitEventResult,
        LifecycleTransitionInput,
        LifecycleTransitionResult,
        LoadUserInput,
        SendEmailInput,
        SendEmailResult,
        UpdateAttributesInput,
        UpdateAttributesResult,
        UserSnapshot,
    )


class ScenarioInput(BaseModel):
    load: LoadUserInput
    update: UpdateAttributesInput
    transition: LifecycleTransitionInput
    webhook: CallWebhookInput
    email: SendEmailInput
    emit: EmitEventInput


class ScenarioResult(BaseModel):
    user: UserSnapshot | None
    update: UpdateAttributesResult
    transition: LifecycleTransitionResult
    webhook: CallWebhookResult
    email: SendEmailResult
    emit: EmitEventResult


RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=100), maximum_attempts=3)


@workflow.defn(name="tests.ActionScenario")
class ActionScenarioWorkflow:
    @workflow.run
    async def run(self, scenario: ScenarioInput) -> ScenarioResult:
        async def call(name: str, arg: BaseModel, result_type: type) -> object:
            return await workflow.execute_activity(
                name,
                arg,
                result_type=result_type,
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=RETRY,
            )

        user = await call(LOAD_USER, scenario.load, UserSnapshot)
        update = await call(UPDATE_ATTRIBUTES, scenario.update, UpdateAttributesResult)
        transition = await call(
            LIFECYCLE_TRANSITION, scenario.transition, LifecycleTransitionResult
        )
        webhook = await call(CALL_WEBHOOK, scenario.webhook, CallWebhookResult)
        email = await call(SEND_EMAIL, scenario.email, SendEmailResult)
        emit = await call(EMIT_EVENT, scenario.emit, EmitEventResult)
        return ScenarioResult.model_validate(
            {
                "user": user,
                "update": update,
                "transition": transition,
                "webhook": webhook,
                "email": email,
                "emit": emit,
            }
        )

"""Handlers of the action nodes: each builds its activity's typed input and calls it by name."""

from __future__ import annotations

from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities import contracts as c
    from workflows.context import RunContext


async def email(node: Any, run: RunContext) -> str | None:
    await run.act(
        node,
        c.SEND_EMAIL,
        c.SendEmailInput(
            meta=run.action_meta(node.id),
            to=node.to,
            from_address=node.from_,
            subject=node.subject,
            text=node.text,
            html=node.html,
            reply_to=node.reply_to,
            context=run.template_context(),
        ),
        c.SendEmailResult,
    )
    return node.next


async def webhook(node: Any, run: RunContext) -> str | None:
    result = await run.act(
        node,
        c.CALL_WEBHOOK,
        c.CallWebhookInput(
            meta=run.action_meta(node.id),
            method=node.method,
            url=node.url,
            headers=node.headers,
            body=node.body,
            request_timeout_seconds=node.request_timeout.total_seconds(),
            accept_status=node.accept_status,
            context=run.template_context(),
        ),
        c.CallWebhookResult,
    )
    if node.save_as:
        run.variables[node.save_as] = result.body
    return node.next


async def update_attributes(node: Any, run: RunContext) -> str | None:
    result = await run.act(
        node,
        c.UPDATE_ATTRIBUTES,
        c.UpdateAttributesInput(
            meta=run.action_meta(node.id),
            operations=[op.model_dump(mode="json") for op in node.operations],
            context=run.template_context(),
        ),
        c.UpdateAttributesResult,
    )
    run.user = {**run.user, "attributes": result.attributes}
    return node.next


async def lifecycle_transition(node: Any, run: RunContext) -> str | None:
    result = await run.act(
        node,
        c.LIFECYCLE_TRANSITION,
        c.LifecycleTransitionInput(
            meta=run.action_meta(node.id), stage=str(node.stage), reason=node.reason
        ),
        c.LifecycleTransitionResult,
    )
    run.user = {**run.user, "current_lifecycle_stage": result.to_stage}
    return node.next


async def emit_event(node: Any, run: RunContext) -> str | None:
    await run.act(
        node,
        c.EMIT_EVENT,
        c.EmitEventInput(
            meta=run.action_meta(node.id),
            event_type=node.event_type,
            payload=node.payload,
            context=run.template_context(),
        ),
        c.EmitEventResult,
    )
    return node.next

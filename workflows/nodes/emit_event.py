"""`emit_event`: publish an event to Kafka, keyed by the user."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    import journey.contracts.actions as c
    from dsl.nodes.emit_event import EmitEventNode
    from workflows.context import RunContext


async def run(node: EmitEventNode, ctx: RunContext) -> str | None:
    await ctx.act(
        node,
        c.EMIT_EVENT,
        c.EmitEventInput(
            meta=ctx.action_meta(node.id),
            event_type=node.event_type,
            payload=node.payload,
            context=ctx.template_context(),
        ),
        c.EmitEventResult,
    )
    return node.next

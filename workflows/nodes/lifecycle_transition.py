"""`lifecycle_transition`: move the user to an AARRR stage (history and audit recorded)."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    import journey.contracts.actions as c
    from dsl.nodes.lifecycle_transition import LifecycleTransitionNode
    from workflows.context import RunContext


async def run(node: LifecycleTransitionNode, ctx: RunContext) -> str | None:
    result = await ctx.act(
        node,
        c.LIFECYCLE_TRANSITION,
        c.LifecycleTransitionInput(
            meta=ctx.action_meta(node.id), stage=str(node.stage), reason=node.reason
        ),
        c.LifecycleTransitionResult,
    )
    ctx.user = {**ctx.user, "current_lifecycle_stage": result.to_stage}
    return node.next

"""`update_attributes`: set/unset/increment/append on the user's attributes, atomically."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    import journey.contracts.actions as c
    from dsl.nodes.update_attributes import UpdateAttributesNode
    from workflows.context import RunContext


async def run(node: UpdateAttributesNode, ctx: RunContext) -> str | None:
    result = await ctx.act(
        node,
        c.UPDATE_ATTRIBUTES,
        c.UpdateAttributesInput(
            meta=ctx.action_meta(node.id),
            operations=[op.model_dump(mode="json") for op in node.operations],
            context=ctx.template_context(),
        ),
        c.UpdateAttributesResult,
    )
    ctx.user = {**ctx.user, "attributes": result.attributes}
    return node.next

"""`condition`: the first branch whose condition holds, else the default."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from dsl.nodes.condition import ConditionNode
    from workflows.context import RunContext


async def run(node: ConditionNode, ctx: RunContext) -> str | None:
    for branch in node.branches:
        if ctx.holds(branch.when):
            return str(branch.next)
    return str(node.default)

"""`end`: the run is over, with an outcome label."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from dsl.nodes.end import EndNode
    from workflows.context import RunContext


async def run(node: EndNode, ctx: RunContext) -> str | None:
    ctx.outcome = str(node.outcome)
    return None

"""`split`: a weighted variant, the same one for a user every time (hash of node and user)."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from dsl.nodes.split import SplitNode, choose_variant
    from workflows.context import RunContext


async def run(node: SplitNode, ctx: RunContext) -> str | None:
    variant = choose_variant(node.variants, ctx.user_id, node.id)
    ctx.variables.setdefault("variants", {})[node.id] = variant.name
    return str(variant.next)

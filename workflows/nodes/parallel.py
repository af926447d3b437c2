"""`parallel`: run every branch; continue when all (or the first) of them finish."""

from __future__ import annotations

import asyncio
import contextlib

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from dsl.nodes.parallel import ParallelNode
    from workflows.context import RunContext


async def run(node: ParallelNode, ctx: RunContext) -> str | None:
    ctx.parallel_depth += 1
    branches = [asyncio.ensure_future(ctx.run_path(start)) for start in node.branches]
    try:
        when = asyncio.FIRST_COMPLETED if node.join == "any" else asyncio.ALL_COMPLETED
        done, pending = await workflow.wait(branches, return_when=when)
        for branch in pending:
            branch.cancel()
        for branch in pending:
            with contextlib.suppress(asyncio.CancelledError):
                await branch
        for branch in done:
            branch.result()  # a failed branch fails the join
    finally:
        ctx.parallel_depth -= 1
    return str(node.next)

"""`end`: the run is over, with an outcome label."""

from __future__ import annotations

from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.context import RunContext


async def run(node: Any, ctx: RunContext) -> str | None:
    ctx.outcome = str(node.outcome)
    return None

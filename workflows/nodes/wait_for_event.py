"""`wait_for_event`: an event of a type (and correlation), or the timeout.

Race-free: events delivered since the run started are buffered, so one that arrived before
the wait began satisfies it.
"""

from __future__ import annotations

from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from dsl.durations import format_duration
    from dsl.nodes.wait_for_event import WaitForEventNode
    from workflows.context import RunContext


async def run(node: WaitForEventNode, ctx: RunContext) -> str | None:
    found: list[dict[str, Any]] = []

    def arrived() -> bool:
        event = ctx.take_event(node.event_type, node.match)
        if event is not None:
            found.append(event)
        return bool(found)

    ctx.wait_reason(f"event {node.event_type} (timeout {format_duration(node.timeout)})")
    # No `finally`: an evicted run's coroutine is closed outside the workflow loop, where the
    # workflow API must not be called; a cancelled wait is cleared by the step runner.
    try:
        await workflow.wait_condition(
            arrived, timeout=node.timeout, timeout_summary=f"{node.id}: {node.event_type}"
        )
    except TimeoutError:
        ctx.wait_reason(None)
        return str(node.on_timeout)
    ctx.wait_reason(None)
    return str(node.on_event)

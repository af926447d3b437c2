"""`delay`: a duration, until a timestamp field, or until the next allowed local time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from dsl.conditions import resolve_field
    from dsl.durations import format_duration
    from dsl.nodes.delay import DelayNode, next_allowed_local_time, resolve_timezone
    from workflows.context import RunContext


def _parse_instant(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def wake_time(node: DelayNode, ctx: RunContext) -> tuple[datetime, str]:
    now = ctx.now()
    if node.duration is not None:
        return now + node.duration, f"for {format_duration(node.duration)}"
    if node.until_field is not None:
        found, value = resolve_field(node.until_field, ctx.condition_context())
        instant = _parse_instant(value) if found else None
        # A missing or unreadable timestamp does not block the run forever: continue now.
        return (instant or now), f"until {node.until_field}"
    until_time = node.until_time
    if until_time is None:
        # Unreachable: `DelayNode` refuses a node without exactly one of the three modes.
        raise ValueError(f"delay {node.id} has no duration, until_field or until_time")
    tz_name = resolve_timezone(until_time, ctx.condition_context(), ctx.document.timezone)
    return next_allowed_local_time(now, until_time, tz_name), f"until local time ({tz_name})"


async def run(node: DelayNode, ctx: RunContext) -> str | None:
    wake, why = wake_time(node, ctx)
    remaining = wake - ctx.now()
    if remaining > timedelta(0):
        ctx.wait_reason(f"delay {why}, wakes at {wake.isoformat()}")
        await workflow.sleep(remaining, summary=f"{node.id}: delay {why}")
        ctx.wait_reason(None)
    return str(node.next)

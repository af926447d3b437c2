"""`sub_journey`: another stored journey for the same user, as a child workflow."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ChildWorkflowError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from dsl.nodes.sub_journey import SubJourneyNode
    from journey.contracts.runs import (
        LOAD_JOURNEY,
        JourneyInput,
        JourneyResult,
        JourneySnapshot,
        LoadJourneyInput,
    )
    from workflows.context import ActionExhausted, RunContext


async def run(node: SubJourneyNode, ctx: RunContext) -> str | None:
    ctx.show_position()
    snapshot = await workflow.execute_activity(
        LOAD_JOURNEY,
        LoadJourneyInput(journey_id=node.journey_id),
        result_type=JourneySnapshot,
        start_to_close_timeout=timedelta(seconds=15),
        retry_policy=RetryPolicy(maximum_interval=timedelta(seconds=30)),
        summary=f"{node.id}: load journey {node.journey_id}",
    )
    child_input = JourneyInput(
        journey=snapshot,
        user_id=ctx.user_id,
        entry_event=ctx.last_event,
        variables={**ctx.variables, **node.variables},
        throttled_actions=ctx.throttled_actions,
    )
    parent = workflow.info().workflow_id
    child_id = f"{parent}-{node.id}-{ctx.visits.get(node.id, 1)}"
    handle = await workflow.start_child_workflow(
        "journey.Journey",
        child_input,
        id=child_id,
        result_type=JourneyResult,
        # A child that is not waited for outlives its parent.
        parent_close_policy=ParentClosePolicy.TERMINATE if node.wait else ParentClosePolicy.ABANDON,
    )
    if not node.wait:
        return str(node.next)
    try:
        result = await handle
    except ChildWorkflowError as err:
        if node.on_error:
            raise ActionExhausted(str(err)) from err
        raise
    ctx.variables.setdefault("sub_journeys", {})[node.id] = result.outcome
    return str(node.next)

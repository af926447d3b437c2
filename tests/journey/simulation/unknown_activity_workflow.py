"""A workflow calling an activity nothing stands in for (its own module: the workflow sandbox
re-imports the module a workflow lives in, so it imports nothing but the SDK)."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

NEW_ACTIVITY = "journey.something_new"


@workflow.defn(name="test.CallsSomethingNew")
class CallsSomethingNew:
    @workflow.run
    async def run(self) -> str:
        return str(
            await workflow.execute_activity(
                NEW_ACTIVITY, "x", start_to_close_timeout=timedelta(seconds=10)
            )
        )

"""A one-activity workflow that proves the worker, Temporal and the database work together."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from journey.contracts.maintenance import StackCheckInput, StackCheckResult


@workflow.defn(name="journey.StackCheck")
class StackCheckWorkflow:
    @workflow.run
    async def run(self, check: StackCheckInput) -> StackCheckResult:
        return await workflow.execute_activity(
            "record_stack_check",
            check,
            result_type=StackCheckResult,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RetryPolicy(maximum_attempts=5, maximum_interval=timedelta(seconds=5)),
            summary="write a stack-check audit row",
        )

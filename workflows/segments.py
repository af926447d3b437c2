"""SegmentRefreshWorkflow: bring every segment's cached memberships up to date, step by step.

Run by the `segment-refresh` Schedule (journey/services/segments/jobs.py). Per segment it loops:
fetch a batch of changes (entered/exited), apply them to the cache, publish their events, until no
change is left; then renews the rows' validity. The changes travel through history, so a step
retried after a crash applies and publishes exactly what it did the first time (event ids come
from the run key and the step number). Segments are refreshed one after another; the run
continues-as-new between segments when its history grows long.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from journey.contracts.segments import (
        APPLY_SEGMENT_CHANGES,
        LIST_SEGMENTS,
        PUBLISH_SEGMENT_EVENTS,
        RENEW_SEGMENT,
        SEGMENT_CHANGES,
        SEGMENT_REFRESH_WORKFLOW,
        ApplySegmentChangesInput,
        ListSegmentsInput,
        PublishSegmentEventsInput,
        RenewSegmentInput,
        SegmentChanges,
        SegmentChangesInput,
        SegmentRef,
        SegmentRefreshInput,
        SegmentRefreshResult,
    )

# A guard against a segment whose members change faster than it can be refreshed.
MAX_STEPS_PER_SEGMENT = 1000
STEP_TIMEOUT = timedelta(minutes=5)
RETRY = RetryPolicy(maximum_interval=timedelta(minutes=1))


@workflow.defn(name=SEGMENT_REFRESH_WORKFLOW)
class SegmentRefreshWorkflow:
    @workflow.run
    async def run(self, request: SegmentRefreshInput) -> SegmentRefreshResult:
        info = workflow.info()
        run_key = request.run_key or info.run_id
        evaluated_at = request.evaluated_at or workflow.now()
        pending = request.pending
        if pending is None:
            pending = await workflow.execute_activity(
                LIST_SEGMENTS,
                ListSegmentsInput(segment_ids=request.segment_ids),
                result_type=list[SegmentRef],
                start_to_close_timeout=STEP_TIMEOUT,
                retry_policy=RETRY,
                summary="list segments",
            )
        totals = SegmentRefreshResult(
            refreshed=request.refreshed, entered=request.entered, exited=request.exited
        )
        for index, segment in enumerate(pending):
            if index and workflow.info().is_continue_as_new_suggested():
                workflow.continue_as_new(
                    request.model_copy(
                        update={
                            "run_key": run_key,
                            "evaluated_at": evaluated_at,
                            "pending": pending[index:],
                            **totals.model_dump(),
                        }
                    )
                )
            await self._refresh(segment, run_key, evaluated_at, totals)
        return totals

    async def _refresh(
        self,
        segment: SegmentRef,
        run_key: str,
        evaluated_at: datetime,
        totals: SegmentRefreshResult,
    ) -> None:
        for step in range(MAX_STEPS_PER_SEGMENT):
            changes = await workflow.execute_activity(
                SEGMENT_CHANGES,
                SegmentChangesInput(segment_id=segment.id),
                result_type=SegmentChanges,
                start_to_close_timeout=STEP_TIMEOUT,
                retry_policy=RETRY,
                summary=f"changes of {segment.name}",
            )
            if not changes.found:
                return
            if changes.entered or changes.exited:
                await workflow.execute_activity(
                    APPLY_SEGMENT_CHANGES,
                    ApplySegmentChangesInput(
                        segment_id=segment.id,
                        entered=changes.entered,
                        exited=changes.exited,
                        evaluated_at=evaluated_at,
                    ),
                    start_to_close_timeout=STEP_TIMEOUT,
                    retry_policy=RETRY,
                    summary=f"cache {len(changes.entered)} in, {len(changes.exited)} out",
                )
                await workflow.execute_activity(
                    PUBLISH_SEGMENT_EVENTS,
                    PublishSegmentEventsInput(
                        segment=segment,
                        event_key=f"{run_key}/{step}",
                        entered=changes.entered,
                        exited=changes.exited,
                        timestamp=evaluated_at,
                    ),
                    result_type=int,
                    start_to_close_timeout=STEP_TIMEOUT,
                    retry_policy=RETRY,
                    summary="publish segment events",
                )
                totals.entered += len(changes.entered)
                totals.exited += len(changes.exited)
            if changes.complete:
                break
        await workflow.execute_activity(
            RENEW_SEGMENT,
            RenewSegmentInput(segment_id=segment.id, evaluated_at=evaluated_at),
            result_type=int,
            start_to_close_timeout=STEP_TIMEOUT,
            retry_policy=RETRY,
            summary=f"renew {segment.name}",
        )
        totals.refreshed += 1

"""Tiny workflows and activities used by the harness self-tests.

They live in an importable module at top level because the Temporal workflow sandbox re-imports
the module that defines a workflow class; classes defined inside a test function cannot run.
Inputs and outputs are pydantic models so the tests also prove every client carries the pydantic
data converter (the SDK's default converter would hand back plain dicts).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel
from temporalio import activity, workflow
from temporalio.exceptions import ApplicationError


class ShoutRequest(BaseModel):
    text: str
    sent_at: datetime


class ShoutResult(BaseModel):
    text: str
    sent_at: datetime
    attempt: int


@activity.defn
async def shout(text: str) -> str:
    """An async activity: proves the worker dispatches activities through the dev server."""
    return text.upper() + "!"


@activity.defn
def stamp_attempt(request: ShoutRequest) -> ShoutResult:
    """A plain `def` activity: proves the harness worker has a thread pool for sync activities."""
    return ShoutResult(text=request.text, sent_at=request.sent_at, attempt=activity.info().attempt)


@activity.defn
async def refuse(reason: str) -> str:
    """Fails for good, so a test can see a failure travel back through Temporal to the client."""
    raise ApplicationError(reason, type="Refused", non_retryable=True)


@workflow.defn
class ShoutWorkflow:
    """Calls both activities, so a result proves a workflow task and two activity tasks ran."""

    @workflow.run
    async def run(self, request: ShoutRequest) -> ShoutResult:
        shouted = await workflow.execute_activity(
            shout, request.text, start_to_close_timeout=timedelta(seconds=30)
        )
        return await workflow.execute_activity(
            stamp_attempt,
            ShoutRequest(text=shouted, sent_at=request.sent_at),
            start_to_close_timeout=timedelta(seconds=30),
        )


@workflow.defn
class RefusingWorkflow:
    @workflow.run
    async def run(self, reason: str) -> str:
        return await workflow.execute_activity(
            refuse, reason, start_to_close_timeout=timedelta(seconds=30)
        )


@workflow.defn
class SleepyWorkflow:
    """Sleeps for days of workflow time: only finishes within the test timeout if time skips."""

    @workflow.run
    async def run(self, days: int) -> timedelta:
        started = workflow.now()
        await workflow.sleep(timedelta(days=days))
        return workflow.now() - started

"""External actions (webhook, email) try once locally before going through the server.

A regular activity costs a round trip through the server per attempt: the task is scheduled,
matched to a poller, started, completed, and the workflow needs another workflow task to go on.
Most webhook and email attempts succeed at once, so in `local-first-actions` runs the first
attempt is a local activity run by the worker that is executing the workflow task, recorded as
one marker. Only when it fails does the action become a regular activity on its (throttled)
queue with the attempts that are left, where it retries with backoff and is visible in the
Temporal UI as a pending activity with its last failure.

The effect key is the same for both, so the effect ledger makes the queued attempt return what
the local one did if that one got as far as the effect. Attempts are counted across the hand
over: a node allowing N attempts makes one locally and at most N-1 queued, after the policy's
first retry interval. A worker with a rate limit on the action refuses the local attempt
(activities/throttle.py), which does not count as an attempt.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError, FailureError

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel

    from activities.contracts import CALL_WEBHOOK, QUEUE_REQUIRED, SEND_EMAIL

ResultT = TypeVar("ResultT", bound=BaseModel)

LOCAL_FIRST_ACTIONS = frozenset({SEND_EMAIL, CALL_WEBHOOK})
# A local attempt keeps its workflow task open (the SDK heartbeats it); an attempt allowed
# longer than this goes to the queue directly, where a long call holds nothing else up.
LONGEST_LOCAL_ATTEMPT = timedelta(seconds=60)
# The local attempt alone: its retries belong to the queued activity.
ONE_ATTEMPT = RetryPolicy(maximum_attempts=1)


def tries_locally_first(activity: str, start_to_close: timedelta) -> bool:
    return activity in LOCAL_FIRST_ACTIONS and start_to_close <= LONGEST_LOCAL_ATTEMPT


def retries_after_one(policy: RetryPolicy) -> RetryPolicy | None:
    """The policy of the attempts after the first, or None when the first was the only one."""
    if policy.maximum_attempts == 1:
        return None
    # The second attempt waits `initial_interval` (a workflow timer); the queued activity's
    # own first retry is therefore the policy's third interval.
    second = policy.initial_interval * policy.backoff_coefficient
    if policy.maximum_interval is not None:
        second = min(second, policy.maximum_interval)
    return RetryPolicy(
        maximum_attempts=max(policy.maximum_attempts - 1, 0),
        initial_interval=second,
        backoff_coefficient=policy.backoff_coefficient,
        maximum_interval=policy.maximum_interval,
        non_retryable_error_types=policy.non_retryable_error_types,
    )


def activity_failure(err: FailureError) -> BaseException | None:
    """What the activity itself raised. A regular activity's failure arrives wrapped in an
    `ActivityError`; a local activity's arrives as it is (ApplicationError, TimeoutError)."""
    return err.cause if isinstance(err, ActivityError) else err


def _refused_for_queue(cause: BaseException | None) -> bool:
    return isinstance(cause, ApplicationError) and cause.type == QUEUE_REQUIRED


def _final(cause: BaseException | None, policy: RetryPolicy) -> bool:
    """Whether the failed local attempt ends the action, as it would a regular activity."""
    if isinstance(cause, CancelledError):
        return True
    if isinstance(cause, ApplicationError):
        return cause.non_retryable or cause.type in (policy.non_retryable_error_types or ())
    return False


async def act_local_first(
    activity: str,
    arg: BaseModel,
    result_type: type[ResultT],
    *,
    start_to_close: timedelta,
    policy: RetryPolicy,
    summary: str,
    queued: Callable[[RetryPolicy], Awaitable[Any]],
) -> ResultT:
    """The action's result: the local attempt's, or the queued activity's (`queued(policy)`)."""
    try:
        return await workflow.execute_local_activity(
            activity,
            arg,
            result_type=result_type,
            start_to_close_timeout=start_to_close,
            retry_policy=ONE_ATTEMPT,
            summary=summary,
        )
    except FailureError as err:
        if isinstance(err, CancelledError):  # the run itself is being cancelled
            raise
        cause = activity_failure(err)
        if _refused_for_queue(cause):
            result: ResultT = await queued(policy)
            return result
        rest = retries_after_one(policy)
        if rest is None or _final(cause, policy):
            raise
    await workflow.sleep(policy.initial_interval)
    result = await queued(rest)
    return result

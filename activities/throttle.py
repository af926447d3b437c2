"""The rate limit of a throttled action, as seen by a first attempt made as a local activity.

A worker caps email and webhook rates on their own task queues (`max_task_queue_activities_
per_second`, enforced by the server across all workers). A local activity never passes through
that queue, so a worker that has a rate configured refuses local attempts of the action; the
workflow then schedules it on the throttled queue (workflows/local_first.py). Refusing costs
nothing: it happens before any rendering, ledger lookup or network call.
"""

from __future__ import annotations

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.contracts import QUEUE_REQUIRED


def refuse_local_attempt_when_throttled(action: str, rate: float | None) -> None:
    if rate is not None and activity.info().is_local:
        raise ApplicationError(
            f"{action} is limited to {rate}/s on this worker: it runs on its throttled queue",
            type=QUEUE_REQUIRED,
            non_retryable=True,
        )

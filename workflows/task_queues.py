"""Task queues of throttled actions, derived from the workflow's own queue.

Email and webhook activities run on their own queues so a worker can cap their global rate
(`max_task_queue_activities_per_second`): a journey blast cannot exceed a provider's limit.
Derived names keep the workflow free of settings: `journey` -> `journey.email`.
"""

from __future__ import annotations

from activities.contracts import CALL_WEBHOOK, SEND_EMAIL

# Recorded in new runs; old histories (without it) replay with actions on the main queue.
PATCH_ID = "throttled-action-queues"
SUFFIX_BY_ACTIVITY = {SEND_EMAIL: "email", CALL_WEBHOOK: "webhook"}


def action_queue(base_queue: str, activity: str) -> str | None:
    """The queue a throttled activity runs on, or None for the workflow's own queue."""
    suffix = SUFFIX_BY_ACTIVITY.get(activity)
    return f"{base_queue}.{suffix}" if suffix else None

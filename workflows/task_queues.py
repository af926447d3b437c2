"""Task queues of throttled actions, derived from the workflow's own queue.

Email and webhook activities run on their own queues when a worker caps their global rate
(`max_task_queue_activities_per_second`): a journey blast cannot exceed a provider's limit.
Derived names keep the workflow free of settings: `journey` -> `journey.email`.

An action without a configured rate runs on the workflow's own queue instead: there the
server hands its task back with the workflow task that scheduled it (eager dispatch), saving
a round trip through matching and a history write per action. Which actions are throttled is
decided by the starter from its settings and travels in the run's input
(`JourneyInput.throttled_actions`), so a replay routes every action as the run did.
"""

from __future__ import annotations

from collections.abc import Collection

from journey.contracts.actions import CALL_WEBHOOK, SEND_EMAIL

SUFFIX_BY_ACTIVITY = {SEND_EMAIL: "email", CALL_WEBHOOK: "webhook"}


def action_queue(
    base_queue: str, activity: str, throttled: Collection[str] | None = None
) -> str | None:
    """The queue an action's activity runs on, or None for the workflow's own queue.

    `throttled` names the rate-limited kinds ("email", "webhook"); None, as in runs started
    before starters said, sends every kind to its own queue.
    """
    suffix = SUFFIX_BY_ACTIVITY.get(activity)
    if suffix is None or (throttled is not None and suffix not in throttled):
        return None
    return f"{base_queue}.{suffix}"

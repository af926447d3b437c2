"""Which behaviour a run follows, decided by `workflow.patched` (recorded in its history).

Every patch costs a run a marker and an upsert of `TemporalChangeVersion` (a visibility write
on the server). New runs therefore record one patch, `lean-history`, which stands for every
patch before it; histories recorded before it replay asking for the older patches one by one,
exactly as they were recorded. A behaviour change after this one gets its own patch id again.

`lean-history` itself brought: short database steps as local activities, and search
attributes sent once where the run blocks instead of once per node.
"""

from __future__ import annotations

from temporalio import workflow

# Every patch id, with the day it was introduced and the behaviour it guards. A run recorded
# without a patch replays the behaviour from before it; never rename or reuse an id.

# 2026-11-22: actions go to their own task queues (`<queue>.email`, `<queue>.webhook`);
# histories without it replay with every action on the main queue (workflows/task_queues.py).
THROTTLED_ACTION_QUEUES = "throttled-action-queues"
# 2026-11-22: at its end a run mirrors its outcome into `workflow_executions` (journey.py).
MIRROR_EXECUTION_OUTCOME = "mirror-execution-outcome"
# 2026-11-22: actions for a user without a profile fail before calling an activity
# (context.py).
UNKNOWN_USER_CHECK = "unknown-user-check"
# 2026-11-22: an event whose `id` the run already received is ignored (Kafka delivers at least
# once); older histories replay receiving every delivery (context.py).
DEDUPE_DELIVERED_EVENTS = "dedupe-delivered-events"
# 2026-11-22: a local activity that failed for good reaches the node's `on_error` instead of
# failing the run (context.py).
LOCAL_FAILURES_REACH_ON_ERROR = "local-failures-reach-on-error"
# 2026-11-22: stands for every patch above in new runs (see the module docstring): short
# database steps as local activities, search attributes sent once where the run blocks.
LEAN_HISTORY = "lean-history"


class Patches:
    def __init__(self) -> None:
        self.lean = False

    def start(self) -> None:
        """Called first in the run: new runs record `lean-history` here."""
        self.lean = workflow.patched(LEAN_HISTORY)

    def has(self, patch_id: str) -> bool:
        """Whether the run follows `patch_id`'s behaviour (always, for lean runs)."""
        return self.lean or workflow.patched(patch_id)

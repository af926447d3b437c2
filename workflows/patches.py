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

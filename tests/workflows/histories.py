"""Helpers shared by the history recorder, the replay test and the worker-crash test.

Recorded histories are plain files (`tests/histories/<example>.json`, Temporal's JSON history
format), so replay needs no server: the Replayer feeds each one to the same workflow classes the
worker registers and fails on any command the current code would not have issued.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from temporalio.client import WorkflowHandle, WorkflowHistory
from temporalio.worker import Replayer

from journey.contracts.runs import JourneyState
from journey.core.temporal.client import DATA_CONVERTER
from worker import WORKFLOWS

HISTORIES_DIR = Path(__file__).resolve().parents[1] / "histories"
WORKFLOW_ID_PREFIX = "history-"


def history_paths() -> list[Path]:
    return sorted(HISTORIES_DIR.glob("*.json"))


def load_history(path: Path) -> WorkflowHistory:
    """A recorded history; its workflow id comes from the file name, as the recorder set it."""
    return WorkflowHistory.from_json(f"{WORKFLOW_ID_PREFIX}{path.stem}", path.read_text())


def journey_replayer() -> Replayer:
    """Exactly the workflows the worker runs, with the product's data converter, replayed in
    the SDK's sandbox (the Replayer's default) even though the worker runs without it by
    default: a nondeterministic call in workflows/ fails the replay test."""
    return Replayer(workflows=list(WORKFLOWS), data_converter=DATA_CONVERTER)


async def wait_until_waiting(
    handle: WorkflowHandle[Any, Any], node_id: str, timeout: float = 30.0
) -> JourneyState:
    """Poll the `state` query until the run waits at `node_id` (a delay or wait_for_event)."""
    deadline = time.monotonic() + timeout
    while True:
        state: JourneyState = await handle.query("state", result_type=JourneyState)
        if node_id in state.current_nodes and state.waiting_for:
            return state
        if state.status != "running" or time.monotonic() >= deadline:
            raise AssertionError(
                f"run never waited at {node_id}: status {state.status}, "
                f"at {state.current_nodes}, steps {[s.node_id for s in state.step_log]}"
            )
        await asyncio.sleep(0.05)

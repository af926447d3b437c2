"""What a finished run reports to the execution mirror (`workflow_executions`)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field

# ---- record_execution_outcome -----------------------------------------------------------------

RECORD_EXECUTION_OUTCOME = "journey.record_execution_outcome"


class NodeOutcome(BaseModel):
    """What a run did at one node, summed over its visits (from the run's step log)."""

    node_id: str
    type: str
    entered: int = 0
    completed: int = 0  # step outcome "ok"
    failed: int = 0  # step outcome "error" (went to on_error) or "failed" (failed the run)
    variant: str | None = None  # `split` nodes: the variant the user got


class StepLike(Protocol):
    @property
    def node_id(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def outcome(self) -> str | None: ...


def summarize_steps(steps: Iterable[StepLike], variants: Any) -> list[NodeOutcome]:
    """Per-node counts of a step log, in order of first entry; pure, so the workflow calls it.

    `variants` is the run's `vars.variants` (split node id -> variant name, set by `split`).
    Entries still open (a cancelled run) count as entered only."""
    chosen = variants if isinstance(variants, dict) else {}
    nodes: dict[str, NodeOutcome] = {}
    for step in steps:
        node = nodes.setdefault(step.node_id, NodeOutcome(node_id=step.node_id, type=step.type))
        node.entered += 1
        if step.outcome == "ok":
            node.completed += 1
        elif step.outcome in ("error", "failed"):
            node.failed += 1
    for node in nodes.values():
        name = chosen.get(node.node_id)
        if node.type == "split" and isinstance(name, str):
            node.variant = name
    return list(nodes.values())


class ExecutionOutcomeInput(BaseModel):
    """How a run ended, for the `workflow_executions` mirror. Sent by the run itself, so runs
    started outside the API (triggers, the Temporal client) are mirrored too.

    `nodes` and `goal_reached` were added later with defaults: a payload without them (an
    activity scheduled by an older worker) still decodes and leaves them unrecorded."""

    workflow_id: str
    run_id: str
    journey_id: str
    journey_version: str
    user_id: str
    status: Literal["completed", "failed", "cancelled"]
    outcome: str | None = None
    error_message: str | None = None
    variables: dict[str, Any] = Field(default_factory=dict)
    finished_at: datetime
    nodes: list[NodeOutcome] = Field(default_factory=list)
    # Whether the journey's `goal` held at the end; None when it has none.
    goal_reached: bool | None = None

"""What every node shares, and what every action node shares.

Each node lists its outgoing transitions as (JSON-pointer suffix, target id) pairs so graph
validation and the workflow interpreter walk the same edges without knowing every node type.
`template_fields` names the fields whose string leaves are Jinja templates (compiled by the
validation pass, rendered by activities; never touched by the workflow).
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from dsl.common import NodeId, StrictModel
from dsl.durations import Duration


class NodeBase(StrictModel):
    id: NodeId
    name: str | None = Field(default=None, description="Human label shown in UIs.")
    description: str | None = None

    template_fields: ClassVar[tuple[str, ...]] = ()

    def transitions(self) -> list[tuple[str, str]]:
        """Outgoing edges as (pointer suffix relative to the node, target node id)."""
        return []


class RetryPolicy(StrictModel):
    """Activity retries; unset fields fall back to the node type's defaults, which live in one
    table with the worker (workflows/policies.py)."""

    maximum_attempts: int | None = Field(default=None, ge=1)
    initial_interval: Duration | None = None
    backoff_coefficient: float | None = Field(default=None, ge=1.0)
    maximum_interval: Duration | None = None


class ActionNode(NodeBase):
    """A node that runs one activity, then continues at `next` (or `on_error` after retries).

    `next` may be omitted only on the last node of a parallel branch; the validation pass
    enforces that with `missing_next`, since the model alone cannot see the graph.
    """

    next: NodeId | None = None
    on_error: NodeId | None = None
    retry: RetryPolicy | None = None
    timeout: Duration | None = Field(default=None, description="Activity start-to-close timeout.")

    def transitions(self) -> list[tuple[str, str]]:
        edges = []
        if self.next is not None:
            edges.append(("next", self.next))
        if self.on_error is not None:
            edges.append(("on_error", self.on_error))
        return edges

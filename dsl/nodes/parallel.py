"""`parallel`: run branches concurrently, then join (all, or the first to finish) at `next`.

Each entry of `branches` is the first node of a branch; a branch ends at a node without `next`.
Branches must stay inside themselves (`branch_escape`); nested parallels are fine. `next` may be
omitted only when this parallel is itself the last node of an enclosing branch.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from dsl.common import NodeId
from dsl.nodes.base import NodeBase


class ParallelNode(NodeBase):
    type: Literal["parallel"] = "parallel"
    branches: list[NodeId] = Field(min_length=2)
    join: Literal["all", "any"] = "all"
    next: NodeId | None = None

    def transitions(self) -> list[tuple[str, str]]:
        edges = [(f"branches/{i}", first) for i, first in enumerate(self.branches)]
        if self.next is not None:
            edges.append(("next", self.next))
        return edges

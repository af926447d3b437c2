"""`condition`: the first branch whose `when` holds wins; otherwise `default`."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from dsl.common import NodeId, StrictModel
from dsl.conditions import Condition
from dsl.nodes.base import NodeBase


class Branch(StrictModel):
    when: Condition
    next: NodeId


class ConditionNode(NodeBase):
    type: Literal["condition"] = "condition"
    branches: list[Branch] = Field(min_length=1)
    default: NodeId

    def transitions(self) -> list[tuple[str, str]]:
        edges = [(f"branches/{i}/next", branch.next) for i, branch in enumerate(self.branches)]
        return [*edges, ("default", self.default)]

"""`end`: the run finishes here with an outcome recorded for reporting."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from dsl.nodes.base import NodeBase


class EndNode(NodeBase):
    type: Literal["end"] = "end"
    outcome: str = Field(default="completed", min_length=1)

"""`wait_for_event`: wait for the user's next event of a type (optionally matching) or time out.

`match` is evaluated with `event` bound to the candidate event, so it can compare it with the
entry event kept in vars (`{"ref": "vars.entry.properties.cart_id"}`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from dsl.common import NodeId
from dsl.conditions import Condition
from dsl.durations import Duration
from dsl.nodes.base import NodeBase


class WaitForEventNode(NodeBase):
    type: Literal["wait_for_event"] = "wait_for_event"
    event_type: str = Field(min_length=1, max_length=255, pattern=r"^[A-Za-z0-9_.:\-]+$")
    match: Condition | None = None
    timeout: Duration
    on_event: NodeId
    on_timeout: NodeId
    max_iterations: int | None = Field(default=None, ge=1)

    def transitions(self) -> list[tuple[str, str]]:
        return [("on_event", self.on_event), ("on_timeout", self.on_timeout)]

"""`lifecycle_transition`: move the user to another lifecycle stage (recorded with a reason)."""

from __future__ import annotations

from typing import Literal

from dsl.common import Stage
from dsl.nodes.base import ActionNode


class LifecycleTransitionNode(ActionNode):
    type: Literal["lifecycle_transition"] = "lifecycle_transition"
    stage: Stage
    reason: str | None = None

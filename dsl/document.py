"""The journey document: the full, typed model of one journey.

This model checks the *shape* of a journey (every node typed by its `type`, unknown keys are
errors). Rules that need the whole graph or Jinja (dangling transitions, loops, templates,
time zones, duration bounds) live in `dsl.validation`, which reports every problem at once;
use `validate_journey` for submissions. Kept free of jinja2: the workflow imports this module.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from dsl.common import NodeId, Stage, StrictModel
from dsl.conditions import Condition
from dsl.nodes import Node, NodeBase

# The most nodes a submitted journey may have (`validate_journey` refuses more, before any graph
# rule runs): the largest example has 10, so this is far above any journey people draw, and it
# bounds what one validation request can cost. Not part of the model: stored documents load as
# they are.
MAX_NODES = 1000


class JourneyDocument(StrictModel):
    name: str = Field(min_length=1, max_length=255)
    description: str = ""
    lifecycle_stages: list[Stage] = Field(default_factory=list)
    start: NodeId
    nodes: list[Node] = Field(min_length=1)
    exit_criteria: Condition | None = Field(
        default=None, description="When true (checked on each event), the run stops early."
    )
    goal: Condition | None = Field(default=None, description="When true, the run converted.")
    timezone: str = Field(
        default="UTC", description="IANA zone: the default for delays until a local time."
    )
    variables: dict[str, Any] = Field(default_factory=dict, description="Initial vars.")
    create_missing_profile: bool = Field(
        default=False,
        description="Create a profile for a user id that has none when the run starts; "
        "otherwise actions for such a user fail with UnknownUser.",
    )
    # Opt-in: the example journeys use lifecycle_stages as a label (which stages a journey is
    # about), and their triggers start them for users in other stages too.
    restrict_to_stages: bool = Field(
        default=False,
        description="Only users whose current stage is in lifecycle_stages may start the "
        "journey (REST start answers 409, triggers record a skip); no effect without stages.",
    )

    def node_map(self) -> dict[str, NodeBase]:
        """Nodes by id (the first of duplicates wins; validation reports duplicates)."""
        nodes: dict[str, NodeBase] = {}
        for node in self.nodes:
            nodes.setdefault(node.id, node)
        return nodes

    def node(self, node_id: str) -> NodeBase:
        return self.node_map()[node_id]

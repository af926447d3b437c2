"""The journey document envelope. Node configs are typed per node type by the DSL proper;
here a node is any object with an `id` and a `type`, enough to store and list journeys."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from dsl.stages import LifecycleStage


class NodeRef(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_\-]+$")
    type: str = Field(min_length=1)


class JourneyDocument(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=255)
    description: str = ""
    lifecycle_stages: list[LifecycleStage] = Field(default_factory=list)
    start: str
    nodes: list[NodeRef] = Field(min_length=1)
    exit_criteria: dict[str, Any] | None = None
    goal: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _start_names_a_node(self) -> JourneyDocument:
        ids = [node.id for node in self.nodes]
        if self.start not in ids:
            raise ValueError(f"start node {self.start!r} is not one of the nodes")
        return self

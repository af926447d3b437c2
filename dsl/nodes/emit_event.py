"""`emit_event`: publish an event (to the emitted-events topic); payload strings are templates."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, JsonValue

from dsl.nodes.base import ActionNode


class EmitEventNode(ActionNode):
    type: Literal["emit_event"] = "emit_event"
    event_type: str = Field(min_length=1, max_length=255, pattern=r"^[A-Za-z0-9_.:\-]+$")
    payload: JsonValue = Field(default_factory=dict)

    template_fields: ClassVar[tuple[str, ...]] = ("payload",)

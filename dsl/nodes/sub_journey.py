"""`sub_journey`: start another journey as a child workflow, optionally waiting for it.

String leaves of `variables` are templates, rendered before the child starts so the child sees
plain values.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from dsl.nodes.base import ActionNode


class SubJourneyNode(ActionNode):
    type: Literal["sub_journey"] = "sub_journey"
    journey_id: str = Field(min_length=1)
    wait: bool = True
    variables: dict[str, Any] = Field(default_factory=dict)

    template_fields: ClassVar[tuple[str, ...]] = ("variables",)

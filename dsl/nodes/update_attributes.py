"""`update_attributes`: change user attributes through a list of explicit operations.

Operations are a discriminated union on `op` so each one validates only its own fields; string
values are templates rendered by the activity before the update is applied.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field, JsonValue

from dsl.common import ATTRIBUTE_PATH_PATTERN, StrictModel
from dsl.nodes.base import ActionNode

AttributePath = Annotated[str, Field(pattern=ATTRIBUTE_PATH_PATTERN)]


class SetOp(StrictModel):
    op: Literal["set"] = "set"
    path: AttributePath
    value: JsonValue


class UnsetOp(StrictModel):
    op: Literal["unset"] = "unset"
    path: AttributePath


class IncrementOp(StrictModel):
    op: Literal["increment"] = "increment"
    path: AttributePath
    by: int | float = 1


class AppendOp(StrictModel):
    op: Literal["append"] = "append"
    path: AttributePath
    value: JsonValue


Operation = Annotated[SetOp | UnsetOp | IncrementOp | AppendOp, Field(discriminator="op")]
OPERATION_TAGS = frozenset({"set", "unset", "increment", "append"})


class UpdateAttributesNode(ActionNode):
    type: Literal["update_attributes"] = "update_attributes"
    operations: list[Operation] = Field(min_length=1)

    template_fields: ClassVar[tuple[str, ...]] = ("operations",)

"""Small constrained types shared by the document and every node module.

Validation failures raise `PydanticCustomError` whose *type* is the problem code the
validation pass reports (e.g. `unknown_lifecycle_stage`), so schema errors and graph rules
speak the same vocabulary.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError

from dsl.stages import LIFECYCLE_STAGES, LifecycleStage

NODE_ID_PATTERN = r"^[A-Za-z0-9_-]+$"
IDENTIFIER_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
ATTRIBUTE_PATH_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$"

NodeId = Annotated[str, Field(min_length=1, max_length=100, pattern=NODE_ID_PATTERN)]
"""A reference to (or the id of) a node: transitions are explicit ids, never positions."""


class StrictModel(BaseModel):
    """Base for every DSL model: unknown keys are errors so a typo never silently does nothing."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


def _check_stage(value: Any) -> Any:
    if isinstance(value, LifecycleStage) or value in LIFECYCLE_STAGES:
        return value
    raise PydanticCustomError(
        "unknown_lifecycle_stage",
        "unknown lifecycle stage '{value}'; expected one of {expected}",
        {"value": value, "expected": ", ".join(LIFECYCLE_STAGES)},
    )


Stage = Annotated[LifecycleStage, BeforeValidator(_check_stage)]
"""A lifecycle stage whose error names the problem `unknown_lifecycle_stage`."""

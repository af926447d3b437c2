"""Small constrained types shared by the document and every node module.

Validation failures raise `PydanticCustomError` whose *type* is the problem code the
validation pass reports (e.g. `unknown_lifecycle_stage`), so schema errors and graph rules
speak the same vocabulary.
"""

from __future__ import annotations

import unicodedata
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError

from dsl.stages import LIFECYCLE_STAGES, LifecycleStage

NODE_ID_PATTERN = r"^[A-Za-z0-9_-]+$"
IDENTIFIER_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
ATTRIBUTE_PATH_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$"

NodeId = Annotated[str, Field(min_length=1, max_length=100, pattern=NODE_ID_PATTERN)]
"""A reference to (or the id of) a node: transitions are explicit ids, never positions."""


# Unicode categories a user id may not contain: control (C0, DEL, C1), format (bidi overrides,
# zero-width characters), surrogates (cannot be encoded as UTF-8, e.g. as the Kafka key) and
# line/paragraph separators. Workflow ids (journey/contracts/ids.py) map such characters to `_`, so
# "ada\x00" and "ada_" would share one run id.
UNPRINTABLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
USER_ID_MAX_LENGTH = 255  # users.id and every user_id column are VARCHAR(255)


def _check_printable(value: str) -> str:
    for position, character in enumerate(value):
        if unicodedata.category(character) in UNPRINTABLE_CATEGORIES:
            raise PydanticCustomError(
                "unprintable_character",
                "must not contain control, format or separator characters; "
                "found {character} at index {position}",
                {"character": f"U+{ord(character):04X}", "position": position},
            )
    return value


UserId = Annotated[
    str,
    Field(
        min_length=1,
        max_length=USER_ID_MAX_LENGTH,
        description="The customer's id: printable (no control, format or line separator "
        "characters).",
        json_schema_extra={"pattern": "^[^\\u0000-\\u001f\\u007f-\\u009f]+$"},
    ),
    AfterValidator(_check_printable),
]
"""A customer's id, as every model that takes one accepts it (events, starts, profiles)."""


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

"""Field paths (`user.attributes.plan`, `event.properties.cart_id`, `vars.entry.type`).

A path is split into a root and segments so the same parsed form can be resolved against a
plain-data context here and compiled to SQL (JSON column access) later. Resolution is pure:
mappings by key, lists by decimal index, nothing else — no attribute access, no eval.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Final

from pydantic import AfterValidator
from pydantic_core import PydanticCustomError

FIELD_ROOTS: Final = frozenset({"user", "event", "vars"})
"""Roots a condition may read. Templates may additionally read `journey` (see dsl.templates)."""

_SEGMENT = re.compile(r"^[A-Za-z0-9_-]+$")


class _Missing:
    """Sentinel for "the path does not resolve"; distinct from a present JSON null."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Final = _Missing()


def split_path(path: str) -> tuple[str, tuple[str, ...]]:
    """`"user.attributes.plan"` -> `("user", ("attributes", "plan"))`."""
    root, *segments = path.split(".")
    return root, tuple(segments)


def check_field_path(path: str) -> str:
    """Validate syntax and root; errors carry the problem codes of the validation pass."""
    parts = path.split(".")
    if not path or not all(_SEGMENT.match(part) for part in parts):
        raise PydanticCustomError(
            "invalid_field_path",
            "'{path}' is not a dotted field path like user.attributes.plan",
            {"path": path},
        )
    if parts[0] not in FIELD_ROOTS:
        raise PydanticCustomError(
            "unknown_field_root",
            "field '{path}' must start with one of: {roots}",
            {"path": path, "roots": ", ".join(sorted(FIELD_ROOTS))},
        )
    return path


FieldPath = Annotated[str, AfterValidator(check_field_path)]
"""A dotted path whose root is user, event or vars."""


def lookup(context: Mapping[str, Any], path: str) -> Any:
    """The value at `path` in `context`, or MISSING when any step does not exist."""
    root, segments = split_path(path)
    if root not in context:
        return MISSING
    value: Any = context[root]
    for segment in segments:
        if isinstance(value, Mapping):
            if segment not in value:
                return MISSING
            value = value[segment]
        elif (
            isinstance(value, Sequence)
            and not isinstance(value, str | bytes)
            and segment.isdigit()
            and int(segment) < len(value)
        ):
            value = value[int(segment)]
        else:
            return MISSING
    return value

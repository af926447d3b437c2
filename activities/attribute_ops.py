"""Applying update-attributes operations to a user's attributes document, purely in memory.

Kept apart from the database code so the semantics (dotted paths, what each op does to missing
or mistyped values) are one small, testable function. `apply_operations` works on a deep copy
and returns a new document: if any operation fails, the caller has nothing half-applied to
undo, which is what makes the activity's all-or-nothing transaction trivial.

Errors are non-retryable because they are properties of the journey and the stored data, not of
the moment: retrying an increment of a string fails the same way every time.
"""

from __future__ import annotations

import copy
from typing import Any

from temporalio.exceptions import ApplicationError

from journey.contracts.actions import ATTRIBUTE_TYPE_ERROR, INVALID_OPERATION

__all__ = ["OPERATIONS", "apply_operations"]

OPERATIONS = frozenset({"set", "unset", "increment", "append"})


def _invalid(message: str) -> ApplicationError:
    return ApplicationError(message, type=INVALID_OPERATION, non_retryable=True)


def _type_error(message: str) -> ApplicationError:
    return ApplicationError(message, type=ATTRIBUTE_TYPE_ERROR, non_retryable=True)


def _split(path: Any) -> list[str]:
    if not isinstance(path, str) or not path:
        raise _invalid(f"attribute path must be a non-empty string, got {path!r}")
    parts = path.split(".")
    if any(not part for part in parts):
        raise _invalid(f"attribute path {path!r} has an empty segment")
    return parts


def _parent(document: dict[str, Any], parts: list[str], path: str, *, create: bool) -> Any:
    """The dict holding the last segment; intermediate dicts are created when `create`."""
    node: Any = document
    for depth, part in enumerate(parts[:-1]):
        child = node.get(part)
        if child is None:
            if not create:
                return None
            child = node[part] = {}
        elif not isinstance(child, dict):
            prefix = ".".join(parts[: depth + 1])
            raise _type_error(f"cannot descend into {prefix!r} for {path!r}: it is not an object")
        node = child
    return node


def _is_number(value: Any) -> bool:
    # bool is an int subclass, but incrementing true is a journey bug, not arithmetic.
    return isinstance(value, int | float) and not isinstance(value, bool)


def _apply(document: dict[str, Any], operation: dict[str, Any]) -> None:
    op = operation.get("op")
    if op not in OPERATIONS:
        raise _invalid(f"unknown attribute operation {op!r}; expected one of {sorted(OPERATIONS)}")
    path = operation.get("path")
    parts = _split(path)
    assert isinstance(path, str)
    key = parts[-1]
    if op == "unset":
        parent = _parent(document, parts, path, create=False)
        if parent is not None:
            parent.pop(key, None)
        return
    parent = _parent(document, parts, path, create=True)
    if op == "set":
        if "value" not in operation:
            raise _invalid(f"set {path!r} needs a 'value'")
        parent[key] = operation["value"]
    elif op == "increment":
        by = operation.get("by", 1)
        if not _is_number(by):
            raise _invalid(f"increment {path!r}: 'by' must be a number, got {by!r}")
        current = parent.get(key, 0)
        if current is None:
            current = 0
        if not _is_number(current):
            raise _type_error(f"cannot increment {path!r}: current value {current!r} is no number")
        parent[key] = current + by
    else:  # append
        if "value" not in operation:
            raise _invalid(f"append {path!r} needs a 'value'")
        current = parent.get(key)
        if current is None:
            parent[key] = [operation["value"]]
        elif isinstance(current, list):
            parent[key] = [*current, operation["value"]]
        else:
            raise _type_error(f"cannot append to {path!r}: current value {current!r} is no list")


def apply_operations(
    attributes: dict[str, Any] | None, operations: list[dict[str, Any]]
) -> dict[str, Any]:
    """A new attributes document with every operation applied in order, or an error."""
    document: dict[str, Any] = copy.deepcopy(attributes) if attributes else {}
    for operation in operations:
        if not isinstance(operation, dict):
            raise _invalid(f"attribute operation must be an object, got {operation!r}")
        _apply(document, operation)
    return document

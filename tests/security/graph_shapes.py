"""Journeys of a chosen size and shape, and the work validating one takes (lines of dsl/ run).

Imports only dsl/, so a fresh interpreter counts quickly (test_validation_and_events.py).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

import dsl
from dsl.validation import validate_journey

DSL_DIR = str(Path(dsl.__file__).parent)


def email(node_id: str, next_: str | None = None) -> dict[str, Any]:
    node = {"id": node_id, "type": "email", "to": "a@example.com", "subject": "s", "text": "t"}
    return {**node, "next": next_} if next_ is not None else node


def chain(size: int) -> dict[str, Any]:
    """n0 -> n1 -> ... -> end: every node reaches every later one."""
    nodes = [email(f"n{i}", f"n{i + 1}") for i in range(size - 1)]
    return {
        "name": "chain",
        "start": "n0",
        "nodes": [*nodes, {"id": f"n{size - 1}", "type": "end"}],
    }


def fan(size: int) -> dict[str, Any]:
    """A split into half the nodes, all merging into a chain of the other half."""
    width = (size - 1) // 2
    tail = chain(size - 1 - width)["nodes"]
    variants = [{"name": f"v{i}", "weight": 1, "next": f"v{i}"} for i in range(width)]
    nodes = [{"id": "split", "type": "split", "variants": variants}]
    nodes += [email(f"v{i}", "n0") for i in range(width)]
    return {"name": "fan", "start": "split", "nodes": nodes + tail}


def parallels(size: int) -> dict[str, Any]:
    """Parallels one after another, each with two one-node branches."""
    count = (size - 1) // 3
    nodes: list[dict[str, Any]] = []
    for i in range(count):
        after = f"p{i + 1}" if i + 1 < count else "done"
        nodes += [
            {"id": f"p{i}", "type": "parallel", "branches": [f"a{i}", f"b{i}"], "next": after},
            email(f"a{i}"),
            email(f"b{i}"),
        ]
    return {"name": "parallels", "start": "p0", "nodes": [*nodes, {"id": "done", "type": "end"}]}


def loop(size: int) -> dict[str, Any]:
    """One unguarded cycle through every node, and no end: every node has problems."""
    return {
        "name": "loop",
        "start": "n0",
        "nodes": [email(f"n{i}", f"n{(i + 1) % size}") for i in range(size)],
    }


SHAPES: dict[str, Callable[[int], dict[str, Any]]] = {
    "chain": chain,
    "fan": fan,
    "parallels": parallels,
    "loop": loop,
}


def dsl_lines(document: dict[str, Any]) -> int:
    """Lines of the dsl package executed to validate `document`: deterministic work."""
    executed = 0

    def count(_frame: FrameType, event: str, _arg: Any) -> Any:
        nonlocal executed
        executed += event == "line"
        return count

    def enter(frame: FrameType, _event: str, _arg: Any) -> Any:
        return count if frame.f_code.co_filename.startswith(DSL_DIR) else None

    previous = sys.gettrace()
    sys.settrace(enter)
    try:
        validate_journey(document)
    finally:
        sys.settrace(previous)
    return executed

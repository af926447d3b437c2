"""A best-effort document from data that failed the schema, so validation can still report
graph, template and duration problems of everything that did parse: every problem at once.

A node that fails its own schema becomes an `UnparsedNode` that keeps its id and its raw
transitions; graph rules treat it leniently (see dsl.graph) so it causes no false reports.
"""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter, ValidationError

from dsl.conditions import Condition
from dsl.document import JourneyDocument
from dsl.nodes import NODE_REGISTRY, Node, NodeBase
from dsl.problems import escape_segment

_NODE = TypeAdapter(Node)
_CONDITION = TypeAdapter(Condition)
_SINGLE_EDGES = ("next", "on_error", "default", "on_event", "on_timeout")


class UnparsedNode(NodeBase):
    """Stands in for a node whose own schema failed (already reported as schema problems)."""

    raw_type: str
    edges: list[tuple[str, str]]
    # (pointer suffix, source) of the strings in the node type's template fields.
    templates: list[tuple[str, str]]

    def transitions(self) -> list[tuple[str, str]]:
        return list(self.edges)


def _raw_edges(raw: dict[str, Any]) -> list[tuple[str, str]]:
    edges = [(key, raw[key]) for key in _SINGLE_EDGES if isinstance(raw.get(key), str)]
    for key in ("branches", "variants"):
        items = raw.get(key)
        if not isinstance(items, list):
            continue
        for i, item in enumerate(items):
            if isinstance(item, str):  # parallel branches are node ids
                edges.append((f"{key}/{i}", item))
            elif isinstance(item, dict) and isinstance(item.get("next"), str):
                edges.append((f"{key}/{i}/next", item["next"]))
    return edges


def _raw_templates(raw: dict[str, Any], raw_type: str) -> list[tuple[str, str]]:
    model = NODE_REGISTRY.get(raw_type)
    found: list[tuple[str, str]] = []

    def walk(value: Any, suffix: str) -> None:
        if isinstance(value, str):
            found.append((suffix, value))
        elif isinstance(value, dict):
            for key, item in value.items():
                walk(item, f"{suffix}/{escape_segment(key)}")
        elif isinstance(value, list):
            for i, item in enumerate(value):
                walk(item, f"{suffix}/{i}")

    for field in model.template_fields if model else ():
        key = "from" if field == "from_" else field
        if key in raw:
            walk(raw[key], escape_segment(key))
    return found


def _node(raw: Any) -> NodeBase | None:
    try:
        node: NodeBase = _NODE.validate_python(raw)
        return node
    except ValidationError:
        pass
    if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
        return None  # nothing to stand in for: no id can be referenced
    declared = raw.get("type")
    raw_type = declared if isinstance(declared, str) else ""
    return UnparsedNode.model_construct(
        id=raw["id"],
        raw_type=raw_type,
        edges=_raw_edges(raw),
        templates=_raw_templates(raw, raw_type),
    )


def _optional(adapter: TypeAdapter[Any], value: Any) -> Any:
    try:
        return None if value is None else adapter.validate_python(value)
    except ValidationError:
        return None


def salvage(data: Any) -> JourneyDocument | None:
    """The parts of `data` that parse; None when even the node list is unusable."""
    if not isinstance(data, dict) or not isinstance(data.get("nodes"), list):
        return None
    parsed = [_node(raw) for raw in data["nodes"]]
    nodes = [node for node in parsed if node is not None]
    if len(nodes) != len(parsed) or not isinstance(data.get("start"), str):
        # A node without an id shifts every index the graph rules point at: stop here.
        return None
    timezone = data.get("timezone")
    return JourneyDocument.model_construct(
        name=str(data.get("name", "")),
        start=data["start"],
        nodes=nodes,  # type: ignore[arg-type]  # stand-ins are deliberately outside the union
        exit_criteria=_optional(_CONDITION, data.get("exit_criteria")),
        goal=_optional(_CONDITION, data.get("goal")),
        timezone=timezone if isinstance(timezone, str) else "UTC",
        variables={},
        lifecycle_stages=[],
        description="",
    )

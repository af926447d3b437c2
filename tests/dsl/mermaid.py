"""A strict reader of the Mermaid subset `dsl.diagram` writes, for the diagram tests.

Every line must be the header, a comment, a node definition with a quoted label in one of the
known shapes, an edge between defined nodes (optionally with a quoted label), a `classDef` or
a `class` line; anything else is an error. Labels may hold entity codes and `<br/>` only, and
are decoded back into text so tests compare them with what the journey says.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

SHAPES = {
    ("[/", "/]"): "parallelogram",
    ("[/", "\\]"): "trapezoid",
    ("[[", "]]"): "subroutine",
    ("{{", "}}"): "hexagon",
    ("((", "))"): "circle",
    ("([", "])"): "stadium",
    ("[", "]"): "rectangle",
    ("{", "}"): "diamond",
}
_ID = r"[A-Za-z][A-Za-z0-9_]*"
_LABEL = r'"([^"\n]*)"'
_NODE = re.compile(
    rf"^    ({_ID})("
    + "|".join(re.escape(opening) for opening, _ in SHAPES)
    + rf"){_LABEL}("
    + "|".join(re.escape(closing) for _, closing in SHAPES)
    + r")$"
)
_EDGE = re.compile(rf"^    ({_ID}) (-->|-\.->)(?:\|{_LABEL}\|)? ({_ID})$")
_CLASSDEF = re.compile(rf"^    classDef ({_ID}) \S.*$")
_CLASS = re.compile(rf"^    class ({_ID}(?:,{_ID})*) ({_ID})$")
_ENTITY = re.compile(r"#(quot|amp|lt|gt|\d+);")
_KEYWORDS = {"end", "graph", "subgraph", "flowchart", "style", "class", "classDef", "click"}


@dataclass
class Diagram:
    nodes: dict[str, tuple[str, list[str]]] = field(default_factory=dict)  # id -> (shape, lines)
    edges: list[tuple[str, str, str, str | None]] = field(default_factory=list)
    classes: dict[str, str] = field(default_factory=dict)  # node id -> class

    def by_journey_id(self) -> dict[str, str]:
        """Journey node id (the first label line) -> Mermaid id."""
        return {lines[0]: mermaid_id for mermaid_id, (_, lines) in self.nodes.items()}


def decode(label: str) -> list[str]:
    """The label's text lines; fails on a raw character that only an entity may stand for."""
    assert "\n" not in label
    without_breaks = label.split("<br/>")
    lines = []
    for part in without_breaks:
        raw = _ENTITY.sub("", part)
        for char in '"#<>|`[]{}()&':
            assert char not in raw, f"unescaped {char!r} in label {label!r}"
        lines.append(
            _ENTITY.sub(
                lambda m: html.unescape(
                    f"&{m.group(1)};" if not m.group(1).isdigit() else f"&#{m.group(1)};"
                ),
                part,
            )
        )
    return lines


def parse(text: str) -> Diagram:
    assert text.endswith("\n")
    lines = text.rstrip("\n").split("\n")
    assert "flowchart TD" in lines, "no flowchart header"
    diagram = Diagram()
    for line in lines:
        if line.startswith("%% ") or line == "flowchart TD":
            continue
        if node := _NODE.match(line):
            node_id, opening, label, closing = node.groups()
            assert (opening, closing) in SHAPES, line
            assert node_id not in _KEYWORDS and node_id not in diagram.nodes, line
            diagram.nodes[node_id] = (SHAPES[(opening, closing)], decode(label))
        elif edge := _EDGE.match(line):
            source, arrow, label, target = edge.groups()
            text_label = "\n".join(decode(label)) if label is not None else None
            diagram.edges.append((source, target, arrow, text_label))
        elif _CLASSDEF.match(line):
            continue
        elif assigned := _CLASS.match(line):
            ids, name = assigned.groups()
            for node_id in ids.split(","):
                assert node_id not in diagram.classes, f"{node_id} classed twice"
                diagram.classes[node_id] = name
        else:
            raise AssertionError(f"not a line of the diagram grammar: {line!r}")
    for source, target, _, _ in diagram.edges:
        assert source in diagram.nodes and target in diagram.nodes, (source, target)
    return diagram

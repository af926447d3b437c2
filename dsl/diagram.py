"""A journey as a Mermaid flowchart: pure text, which GitHub and most editors render natively.

Mermaid node ids are generated (`n0`, `n1`, ... by position in `nodes`), never the journey's
own ids: `end`, `graph`, `style` and friends are Mermaid keywords, and ids like `o1` or `x1`
right after an arrow are read as other edge kinds. The journey id is the first line of each
label instead. Label text is escaped by dsl/diagram_text.py (entity codes, `<br/>` lines).

Shapes by what a node does: diamonds decide (condition, split), hexagons wait (delay,
wait_for_event), parallelograms send something out (email, webhook, emit_event), rectangles
change the profile, a trapezoid forks (parallel), a subroutine box starts a sub-journey and a
stadium ends. Edges carry what chooses them: a branch's condition, a variant and its weight,
the awaited event or the timeout, `on error` (dotted). The branches of a `parallel` end in
dotted `join` edges to the parallel's `next`.

With `counts` (the per-node sums of journey performance) each label gets a line
`entered N · completed N · failed N`, split variants get their runs, and nodes no finished
run entered are greyed out.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

from dsl.diagram_text import (
    describe_condition,
    escape_label,
    node_summary,
    short,
    type_of,
)
from dsl.document import JourneyDocument
from dsl.durations import format_duration
from dsl.nodes import (
    ActionNode,
    ConditionNode,
    NodeBase,
    ParallelNode,
    SplitNode,
    WaitForEventNode,
)

__all__ = ["DiagramCounts", "NodeCounts", "escape_label", "mermaid_id", "render_mermaid"]

MAX_EDGE_LABEL = 48
START_ID = "start_marker"

# (opening, closing) of each node type's shape; the label goes quoted in between.
_SHAPES: dict[str, tuple[str, str]] = {
    "email": ("[/", "/]"),
    "webhook": ("[/", "/]"),
    "emit_event": ("[/", "/]"),
    "update_attributes": ("[", "]"),
    "lifecycle_transition": ("[", "]"),
    "condition": ("{", "}"),
    "split": ("{", "}"),
    "delay": ("{{", "}}"),
    "wait_for_event": ("{{", "}}"),
    "parallel": ("[/", "\\]"),
    "sub_journey": ("[[", "]]"),
    "end": ("([", "])"),
}
_CLASSES = {
    "email": "send",
    "webhook": "send",
    "emit_event": "send",
    "update_attributes": "change",
    "lifecycle_transition": "change",
    "condition": "decide",
    "split": "decide",
    "delay": "wait",
    "wait_for_event": "wait",
    "parallel": "flow",
    "sub_journey": "flow",
    "end": "finish",
}
_CLASS_STYLES = {
    "send": "fill:#e8f1ff,stroke:#3b6fb6",
    "change": "fill:#eef8ee,stroke:#3d8b3d",
    "decide": "fill:#fff7e0,stroke:#b38600",
    "wait": "fill:#f4ecff,stroke:#7a4fb3",
    "flow": "fill:#f2f2f2,stroke:#666666",
    "finish": "fill:#fdeaea,stroke:#b33b3b",
    "unvisited": "fill:#fafafa,stroke:#bbbbbb,color:#999999,stroke-dasharray:4 3",
}


@dataclass(frozen=True)
class NodeCounts:
    entered: int = 0
    completed: int = 0
    failed: int = 0


@dataclass(frozen=True)
class DiagramCounts:
    """Per-node sums over finished runs (journey performance), and runs per split variant."""

    nodes: Mapping[str, NodeCounts] = field(default_factory=dict)
    variants: Mapping[tuple[str, str], int] = field(default_factory=dict)


def mermaid_id(index: int) -> str:
    return f"n{index}"


def _label(node: NodeBase, counts: DiagramCounts | None) -> str:
    lines = [node.id]
    if node.name:
        lines.append(short(node.name))
    lines.append(short(node_summary(node)))
    parts = [escape_label(line) for line in lines]
    if counts is not None:
        seen = counts.nodes.get(node.id, NodeCounts())
        parts.append(
            escape_label(
                f"entered {seen.entered} · completed {seen.completed} · failed {seen.failed}"
            )
        )
    return "<br/>".join(parts)


def _edge_label(node: NodeBase, suffix: str, counts: DiagramCounts | None) -> str | None:
    """The label of a transition (None for a plain `next`)."""
    if suffix == "on_error":
        return "on error"
    if isinstance(node, ConditionNode):
        if suffix == "default":
            return "otherwise"
        index = int(suffix.split("/")[1])
        return describe_condition(node.branches[index].when)
    if isinstance(node, SplitNode):
        variant = node.variants[int(suffix.split("/")[1])]
        total = sum(v.weight for v in node.variants)
        text = f"{variant.name} ({round(100 * variant.weight / total)}%)"
        if counts is not None:
            text += f" · {counts.variants.get((node.id, variant.name), 0)} runs"
        return text
    if isinstance(node, WaitForEventNode):
        if suffix == "on_event":
            return node.event_type
        return f"timeout {format_duration(node.timeout)}"
    if isinstance(node, ParallelNode) and suffix.startswith("branches/"):
        return f"branch {int(suffix.split('/')[1]) + 1}"
    return None


def _regions(document: JourneyDocument) -> dict[str, dict[str, set[str]]]:
    """node id -> {parallel id: the node ids of that parallel's branches}."""
    nodes = document.node_map()
    owners: dict[str, dict[str, set[str]]] = {}
    for parallel in nodes.values():
        if not isinstance(parallel, ParallelNode):
            continue
        region: set[str] = set()
        queue = deque(first for first in parallel.branches if first in nodes)
        while queue:
            current = queue.popleft()
            if current in region or current == parallel.next or current == parallel.id:
                continue
            region.add(current)
            queue.extend(target for _, target in nodes[current].transitions() if target in nodes)
        for node_id in region:
            owners.setdefault(node_id, {})[parallel.id] = region
    return owners


def join_edges(document: JourneyDocument) -> list[tuple[str, str, str]]:
    """(branch end, node after the join, join kind) for every branch end of a parallel.

    A branch ends at an action or parallel without `next`; it continues where its innermost
    parallel continues (that parallel's `next`, or, when that one ends a branch itself, where
    the enclosing one continues). A parallel without `next` draws no edge of its own: its
    branch ends already point at the right place.
    """
    nodes = document.node_map()
    owners = _regions(document)

    def innermost(node_id: str) -> str | None:
        found = owners.get(node_id, {})
        return min(found, key=lambda pid: len(found[pid])) if found else None

    def after(parallel_id: str, depth: int = 0) -> tuple[str, str] | None:
        parallel = nodes[parallel_id]
        assert isinstance(parallel, ParallelNode)
        if parallel.next is not None:
            return parallel.next, parallel.join
        outer = innermost(parallel_id)
        return after(outer, depth + 1) if outer is not None and depth < len(nodes) else None

    edges = []
    for node_id, node in nodes.items():
        is_end = isinstance(node, ActionNode) and node.next is None
        if not is_end:
            continue
        owner = innermost(node_id)
        target = after(owner) if owner is not None else None
        if target is not None and target[0] in nodes:
            edges.append((node_id, target[0], target[1]))
    return edges


def render_mermaid(document: JourneyDocument, counts: DiagramCounts | None = None) -> str:
    """The journey as `flowchart TD` Mermaid text (ends with a newline)."""
    index: dict[str, int] = {}
    for position, listed in enumerate(document.nodes):
        index.setdefault(listed.id, position)
    nodes = document.node_map()
    lines = [f"%% journey: {short(document.name, 200)}", "flowchart TD"]
    lines.append(f'    {START_ID}(("start"))')
    for node_id, node in nodes.items():
        opening, closing = _SHAPES.get(type_of(node), ("[", "]"))
        label = _label(node, counts)
        lines.append(f'    {mermaid_id(index[node_id])}{opening}"{label}"{closing}')
    if document.start in index:
        lines.append(f"    {START_ID} --> {mermaid_id(index[document.start])}")
    for node_id, node in nodes.items():
        source = mermaid_id(index[node_id])
        for suffix, target in node.transitions():
            if target not in index:
                continue  # a dangling transition (validation reports it); nothing to draw
            if isinstance(node, ParallelNode) and suffix == "next":
                continue  # drawn as the join edges of its branch ends
            text = _edge_label(node, suffix, counts)
            arrow = "-.->" if suffix == "on_error" else "-->"
            shown = f'|"{escape_label(short(text, MAX_EDGE_LABEL))}"|' if text else ""
            lines.append(f"    {source} {arrow}{shown} {mermaid_id(index[target])}")
    for source_id, target_id, join in join_edges(document):
        lines.append(
            f'    {mermaid_id(index[source_id])} -.->|"join {join}"| {mermaid_id(index[target_id])}'
        )
    lines.extend(_classes(document, index, counts))
    return "\n".join(lines) + "\n"


def _classes(
    document: JourneyDocument, index: dict[str, int], counts: DiagramCounts | None
) -> list[str]:
    members: dict[str, list[str]] = {}
    for node_id, node in document.node_map().items():
        kind = _CLASSES.get(type_of(node), "flow")
        if counts is not None and counts.nodes.get(node_id, NodeCounts()).entered == 0:
            kind = "unvisited"
        members.setdefault(kind, []).append(mermaid_id(index[node_id]))
    lines = [f"    classDef {name} {style}" for name, style in _CLASS_STYLES.items()]
    lines += [f"    class {','.join(ids)} {name}" for name, ids in members.items()]
    return lines

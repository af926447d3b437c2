"""Coordinates for the exported diagram: left-to-right layers, orthogonal edges.

A modeler shows only what the BPMNDI section places, so every shape gets bounds and every flow
waypoints. Layers are longest paths from the start (loops are laid out as back edges running
below the diagram); within a layer each element prefers the row of the element it follows, its
k-th successor the row k below, which keeps a straight path straight and branches stacked.
"""

from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass

COLUMN = 170
ROW = 130
MARGIN_X = 150
MARGIN_Y = 100
SIZES = {"task": (100, 80), "event": (36, 36), "gateway": (50, 50)}


@dataclass(frozen=True)
class Bounds:
    x: int
    y: int
    width: int
    height: int

    @property
    def cx(self) -> int:
        return self.x + self.width // 2

    @property
    def cy(self) -> int:
        return self.y + self.height // 2

    @property
    def right(self) -> int:
        return self.x + self.width

    @property
    def bottom(self) -> int:
        return self.y + self.height


@dataclass
class Box:
    """One shape to place: `kind` is task, event or gateway; `host` set for boundary events."""

    id: str
    kind: str
    host: str | None = None


Point = tuple[int, int]


def place(boxes: list[Box], edges: list[tuple[str, str]], start: str) -> dict[str, Bounds]:
    """Bounds of every box. `edges` are (source, target) ids; boundary sources count as hosts."""
    hosts = {box.id: box.host for box in boxes if box.host}
    laid = [box for box in boxes if not box.host]
    graph: dict[str, list[str]] = defaultdict(list)
    for source, target in edges:
        graph[hosts.get(source, source)].append(target)
    back = _back_edges(start, graph)
    layer = _layers([box.id for box in laid], graph, back)
    rows = _rows(laid, graph, back, layer, start)
    bounds: dict[str, Bounds] = {}
    for box in laid:
        width, height = SIZES[box.kind]
        cx, cy = MARGIN_X + layer[box.id] * COLUMN, MARGIN_Y + rows[box.id] * ROW
        bounds[box.id] = Bounds(cx - width // 2, cy - height // 2, width, height)
    attached: dict[str, int] = defaultdict(int)
    for box in boxes:
        if box.host and box.host in bounds:
            host = bounds[box.host]
            offset = attached[box.host]
            attached[box.host] += 1
            bounds[box.id] = Bounds(host.right - 50 - offset * 40, host.bottom - 18, 36, 36)
    return bounds


def _back_edges(start: str, graph: dict[str, list[str]]) -> set[tuple[str, str]]:
    """Edges into a node still on the depth-first stack: the ones that close a loop."""
    back: set[tuple[str, str]] = set()
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    stack = [(start, iter(graph.get(start, [])))]
    state[start] = 1
    while stack:
        node, children = stack[-1]
        child = next(children, None)
        if child is None:
            state[node] = 2
            stack.pop()
        elif state.get(child) == 1:
            back.add((node, child))
        elif child not in state:
            state[child] = 1
            stack.append((child, iter(graph.get(child, []))))
    return back


def _layers(
    ids: list[str], graph: dict[str, list[str]], back: set[tuple[str, str]]
) -> dict[str, int]:
    indegree = dict.fromkeys(ids, 0)
    for source, targets in graph.items():
        for target in targets:
            if (source, target) not in back and target in indegree:
                indegree[target] += 1
    layer = dict.fromkeys(ids, 0)
    queue = deque(node for node in ids if indegree[node] == 0)
    while queue:
        node = queue.popleft()
        for target in graph.get(node, []):
            if (node, target) in back or target not in indegree:
                continue
            layer[target] = max(layer[target], layer[node] + 1)
            indegree[target] -= 1
            if indegree[target] == 0:
                queue.append(target)
    return layer


def _rows(
    boxes: list[Box],
    graph: dict[str, list[str]],
    back: set[tuple[str, str]],
    layer: dict[str, int],
    start: str,
) -> dict[str, int]:
    order = sorted(boxes, key=lambda box: layer[box.id])
    rows: dict[str, int] = {start: 0}
    wanted: dict[str, int] = {}
    taken: dict[int, set[int]] = defaultdict(set)
    for box in order:
        row = rows.get(box.id, wanted.get(box.id, 0))
        while row in taken[layer[box.id]]:
            row += 1
        rows[box.id] = row
        taken[layer[box.id]].add(row)
        for k, target in enumerate(graph.get(box.id, [])):
            if (box.id, target) not in back:
                wanted.setdefault(target, row + k)
    return rows


def waypoints(
    source: Bounds,
    target: Bounds,
    *,
    source_kind: str,
    target_kind: str,
    from_boundary: bool,
    floor: int,
) -> list[Point]:
    """An orthogonal route; edges that run backwards go below the diagram (`floor`)."""
    end = (target.x, target.cy)
    if from_boundary:
        begin = (source.cx, source.bottom)
        if target.x > source.cx:
            return [begin, (source.cx, target.cy), end]
    elif target.x > source.right:
        if target.cy == source.cy:
            return [(source.right, source.cy), end]
        if source_kind == "gateway":
            begin = (source.cx, source.bottom if target.cy > source.cy else source.y)
            return [begin, (source.cx, target.cy), end]
        if target_kind == "gateway":
            tip = (target.cx, target.bottom if source.cy > target.cy else target.y)
            return [(source.right, source.cy), (target.cx, source.cy), tip]
        middle = (source.right + target.x) // 2
        return [(source.right, source.cy), (middle, source.cy), (middle, target.cy), end]
    begin = (source.cx, source.bottom)
    return [begin, (source.cx, floor), (target.cx, floor), (target.cx, target.bottom)]

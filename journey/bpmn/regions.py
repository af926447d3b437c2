"""Which parallel a node's branch belongs to: where a branch that ends there must join.

In the DSL a parallel branch ends at a node without `next`; in BPMN it flows into its fork's
join gateway, so export needs, for each node, the innermost parallel whose branches contain it.
"""

from __future__ import annotations

from collections import deque

from dsl.document import JourneyDocument
from dsl.nodes import NodeBase, ParallelNode


def innermost_parallels(document: JourneyDocument) -> dict[str, str]:
    """Node id -> id of the innermost parallel whose branches reach it (absent: none)."""
    nodes = document.node_map()
    regions: dict[str, set[str]] = {}
    for node in nodes.values():
        if isinstance(node, ParallelNode):
            regions[node.id] = _reach(node.branches, nodes)
    owner: dict[str, str] = {}
    for node_id in nodes:
        containing = [pid for pid, region in regions.items() if node_id in region]
        if containing:
            owner[node_id] = min(containing, key=lambda pid: len(regions[pid]))
    return owner


def _reach(starts: list[str], nodes: dict[str, NodeBase]) -> set[str]:
    seen: set[str] = set()
    queue = deque(starts)
    while queue:
        current = queue.popleft()
        if current in seen or current not in nodes:
            continue
        seen.add(current)
        queue.extend(target for _, target in nodes[current].transitions())
    return seen

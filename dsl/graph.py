"""Graph rules over a schema-valid journey: ids, transitions, reachability, loops, branches.

Pure and jinja-free. Edges come from each node's `transitions()`; a parallel's branch that ends
(a node without `next`) continues, in the analysis, at a virtual join that leads to the
parallel's `next` (or, for a parallel that itself ends an enclosing branch, to that join).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from dsl.document import JourneyDocument
from dsl.nodes import ActionNode, DelayNode, EndNode, NodeBase, ParallelNode, WaitForEventNode
from dsl.problems import Problem, join_pointer, pointer
from dsl.salvage import UnparsedNode


def _reach(starts: Iterable[str], edges: dict[str, list[str]]) -> set[str]:
    seen: set[str] = set()
    queue = deque(start for start in starts if start in edges)
    while queue:
        current = queue.popleft()
        if current in seen:
            continue
        seen.add(current)
        queue.extend(target for target in edges[current] if target in edges)
    return seen


class _Graph:
    def __init__(self, document: JourneyDocument) -> None:
        self.nodes: dict[str, NodeBase] = document.node_map()
        self.index = {node.id: i for i, node in reversed(list(enumerate(document.nodes)))}
        self.edges = {
            node_id: [target for _, target in node.transitions() if target in self.nodes]
            for node_id, node in self.nodes.items()
        }
        # node id -> ids of parallels whose branches contain it (filled by check_branches)
        self.regions: dict[str, dict[str, set[str]]] = {}

    def at(self, node_id: str, suffix: str = "") -> str:
        return join_pointer(pointer("nodes", self.index[node_id]), suffix)


def check_graph(document: JourneyDocument) -> list[Problem]:
    """Every graph problem of a schema-valid document."""
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    for i, listed in enumerate(document.nodes):
        if listed.id in seen:
            problems.append(
                Problem(
                    path=pointer("nodes", i, "id"),
                    code="duplicate_id",
                    message=f"node id {listed.id!r} is already used by /nodes/{seen[listed.id]}",
                )
            )
        else:
            seen[listed.id] = i
    graph = _Graph(document)
    if document.start not in graph.nodes:
        problems.append(
            Problem(
                path="/start", code="missing_start", message=f"no node has id {document.start!r}"
            )
        )
    for node_id, node in graph.nodes.items():
        for suffix, target in node.transitions():
            if target not in graph.nodes:
                problems.append(
                    Problem(
                        path=graph.at(node_id, suffix),
                        code="dangling_transition",
                        message=f"transition names {target!r}, which is not a node id",
                    )
                )
    reachable = _reach([document.start], graph.edges)
    if document.start in graph.nodes:
        for node_id in graph.nodes:
            if node_id not in reachable:
                problems.append(
                    Problem(
                        path=graph.at(node_id),
                        code="unreachable_node",
                        message=f"node {node_id!r} cannot be reached from start",
                    )
                )
    problems.extend(_check_branches(graph))
    problems.extend(_check_missing_next(graph))
    problems.extend(_check_path_to_end(graph))
    problems.extend(_check_loops(graph))
    return problems


def _check_branches(graph: _Graph) -> list[Problem]:
    """Collect each parallel's branch regions and report edges that leave them."""
    problems: list[Problem] = []
    for parallel_id, parallel in graph.nodes.items():
        if not isinstance(parallel, ParallelNode):
            continue
        after = _reach([parallel.next], graph.edges) if parallel.next else set()
        claimed: set[str] = set()
        firsts = {parallel_id, *parallel.branches}
        regions: dict[str, set[str]] = {}
        for i, first in enumerate(parallel.branches):
            if first not in graph.nodes:
                continue
            if (
                first in claimed
                or first in after
                or first == parallel_id
                or isinstance(graph.nodes[first], EndNode)
            ):
                problems.append(_escape(graph.at(parallel_id, f"branches/{i}"), first))
                continue
            region = {first}
            queue = deque([first])
            while queue:
                current = queue.popleft()
                for suffix, target in graph.nodes[current].transitions():
                    if target not in graph.nodes or target in region:
                        continue
                    outside = target in claimed or target in after or target in firsts
                    if outside or isinstance(graph.nodes[target], EndNode):
                        problems.append(_escape(graph.at(current, suffix), target))
                        continue
                    region.add(target)
                    queue.append(target)
            claimed |= region
            regions[first] = region
        for region in regions.values():
            for node_id in region:
                graph.regions.setdefault(node_id, {})[parallel_id] = region
    return problems


def _escape(path: str, target: str) -> Problem:
    return Problem(
        path=path,
        code="branch_escape",
        message=f"transition to {target!r} leaves the parallel branch (or ends inside it)",
    )


def _innermost_parallel(graph: _Graph, node_id: str) -> str | None:
    owners = graph.regions.get(node_id, {})
    if not owners:
        return None
    return min(owners, key=lambda parallel_id: len(owners[parallel_id]))


def _check_missing_next(graph: _Graph) -> list[Problem]:
    problems = []
    for node_id, node in graph.nodes.items():
        if (
            isinstance(node, ActionNode | ParallelNode)
            and node.next is None
            and _innermost_parallel(graph, node_id) is None
        ):
            problems.append(
                Problem(
                    path=graph.at(node_id, "next"),
                    code="missing_next",
                    message="`next` may be omitted only on the last node of a parallel branch",
                )
            )
    return problems


def _check_path_to_end(graph: _Graph) -> list[Problem]:
    """Fixpoint of "can finish": ends can; parallels need all (or any) branches to finish."""
    # An unparsed node (its schema problems are reported) gets the benefit of the doubt.
    done = {
        node_id for node_id, node in graph.nodes.items() if isinstance(node, EndNode | UnparsedNode)
    }

    def join_can_end(parallel_id: str) -> bool:
        parallel = graph.nodes[parallel_id]
        assert isinstance(parallel, ParallelNode)
        if parallel.next is not None:
            return parallel.next in done
        outer = _innermost_parallel(graph, parallel_id)
        return outer is not None and outer in joins_done

    joins_done: set[str] = set()
    changed = True
    while changed:
        changed = False
        for parallel_id, node in graph.nodes.items():
            if (
                isinstance(node, ParallelNode)
                and parallel_id not in joins_done
                and join_can_end(parallel_id)
            ):
                joins_done.add(parallel_id)
                changed = True
        for node_id, node in graph.nodes.items():
            if node_id in done:
                continue
            if isinstance(node, ParallelNode):
                finished = [first in done for first in node.branches if first in graph.nodes]
                ok = (all if node.join == "all" else any)(finished) and node_id in joins_done
            else:
                ok = any(target in done for target in graph.edges[node_id])
                owner = _innermost_parallel(graph, node_id)
                is_branch_end = isinstance(node, ActionNode) and node.next is None
                ok = ok or (is_branch_end and owner is not None and owner in joins_done)
            if ok:
                done.add(node_id)
                changed = True
    return [
        Problem(
            path=graph.at(node_id),
            code="no_path_to_end",
            message=f"no `end` node can be reached from {node_id!r}",
        )
        for node_id in graph.nodes
        if node_id not in done
    ]


def _is_guard(node: NodeBase) -> bool:
    if isinstance(node, UnparsedNode):
        return node.raw_type in ("delay", "wait_for_event")
    return isinstance(node, DelayNode | WaitForEventNode) and node.max_iterations is not None


def _check_loops(graph: _Graph) -> list[Problem]:
    """Every cycle must pass through a delay/wait_for_event that has max_iterations."""
    edges = {
        node_id: [t for t in targets if not _is_guard(graph.nodes[t])]
        for node_id, targets in graph.edges.items()
        if not _is_guard(graph.nodes[node_id])
    }
    reach = {node_id: _reach(edges[node_id], edges) for node_id in edges}
    problems: list[Problem] = []
    reported: set[str] = set()
    for node_id in sorted(edges, key=lambda n: graph.index[n]):
        if node_id in reported or node_id not in reach[node_id]:
            continue
        cycle = {other for other in reach[node_id] if node_id in reach[other]} | {node_id}
        reported |= cycle
        names = ", ".join(sorted(cycle, key=lambda n: graph.index[n]))
        problems.append(
            Problem(
                path=graph.at(node_id),
                code="unguarded_loop",
                message=f"cycle through {names} has no delay or wait_for_event with max_iterations",
            )
        )
    return problems

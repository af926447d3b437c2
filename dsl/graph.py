"""Graph rules over a schema-valid journey: ids, transitions, reachability, loops, branches.

Pure and jinja-free. Edges come from each node's `transitions()`; a parallel's branch that ends
(a node without `next`) continues, in the analysis, at a virtual join that leads to the
parallel's `next` (or, for a parallel that itself ends an enclosing branch, to that join).

Anyone who may validate can submit a document, so every rule is linear in the nodes and edges
(iterative, so a long chain cannot hit the recursion limit), except the branch regions: a node
is visited once per parallel whose branch contains it, i.e. times the nesting depth.
`validate_journey` refuses documents over `MAX_NODES` before any of this runs.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator

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


def _components(edges: dict[str, list[str]]) -> Iterator[list[str]]:
    """Strongly connected components (Tarjan's algorithm, with an explicit stack), each one
    before every component that can reach it. Every target must be a key of `edges`."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()

    def enter(node_id: str) -> tuple[str, Iterator[str]]:
        index[node_id] = low[node_id] = len(index)
        stack.append(node_id)
        on_stack.add(node_id)
        return node_id, iter(edges[node_id])

    for root in edges:
        if root in index:
            continue
        work = [enter(root)]
        while work:
            node_id, targets = work[-1]
            for target in targets:
                if target not in index:
                    work.append(enter(target))
                    break
                if target in on_stack:
                    low[node_id] = min(low[node_id], index[target])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node_id])
                if low[node_id] == index[node_id]:
                    component: list[str] = []
                    while not component or component[-1] != node_id:
                        component.append(stack.pop())
                        on_stack.discard(component[-1])
                    yield component


class _Reachability:
    """Whether one node reaches another, for the branch rules' many such questions: one bitset
    per strongly connected component (built sinks first, so a component ORs its successors')."""

    def __init__(self, edges: dict[str, list[str]]) -> None:
        self.component: dict[str, int] = {}
        self.reaches: list[int] = []
        for number, members in enumerate(_components(edges)):
            for node_id in members:
                self.component[node_id] = number
            bits = 1 << number
            for node_id in members:
                for target in edges[node_id]:
                    if self.component[target] != number:
                        bits |= self.reaches[self.component[target]]
            self.reaches.append(bits)

    def reaches_node(self, source: str, target: str) -> bool:
        return bool(self.reaches[self.component[source]] >> self.component[target] & 1)


class _Graph:
    def __init__(self, document: JourneyDocument) -> None:
        self.nodes: dict[str, NodeBase] = document.node_map()
        self.index = {node.id: i for i, node in reversed(list(enumerate(document.nodes)))}
        self.edges = {
            node_id: [target for _, target in node.transitions() if target in self.nodes]
            for node_id, node in self.nodes.items()
        }
        # node id -> (the parallel with the smallest branch region holding it, that region's
        # size); the first such parallel wins a tie (filled by _check_branches)
        self.owners: dict[str, tuple[str, int]] = {}

    def at(self, node_id: str, suffix: str = "") -> str:
        return join_pointer(pointer("nodes", self.index[node_id]), suffix)

    def innermost_parallel(self, node_id: str) -> str | None:
        owner = self.owners.get(node_id)
        return owner[0] if owner is not None else None

    def claim(self, parallel_id: str, region: set[str]) -> None:
        for node_id in region:
            owner = self.owners.get(node_id)
            if owner is None or len(region) < owner[1]:
                self.owners[node_id] = (parallel_id, len(region))


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
    """Collect each parallel's branch regions and report edges that leave them.

    A branch's region is what its first node reaches without passing the parallel, another
    branch's first node or region, an `end`, or anything reachable from the parallel's `next`.
    """
    problems: list[Problem] = []
    parallels = [
        (parallel_id, node)
        for parallel_id, node in graph.nodes.items()
        if isinstance(node, ParallelNode)
    ]
    reachability = _Reachability(graph.edges) if parallels else None
    for parallel_id, parallel in parallels:
        assert reachability is not None
        after = parallel.next if parallel.next in graph.nodes else None

        def is_after(node_id: str, after: str | None = after) -> bool:
            return after is not None and reachability.reaches_node(after, node_id)

        claimed: set[str] = set()
        firsts = {parallel_id, *parallel.branches}
        for i, first in enumerate(parallel.branches):
            if first not in graph.nodes:
                continue
            if (
                first in claimed
                or is_after(first)
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
                    outside = target in claimed or target in firsts or is_after(target)
                    if outside or isinstance(graph.nodes[target], EndNode):
                        problems.append(_escape(graph.at(current, suffix), target))
                        continue
                    region.add(target)
                    queue.append(target)
            claimed |= region
            graph.claim(parallel_id, region)
    return problems


def _escape(path: str, target: str) -> Problem:
    return Problem(
        path=path,
        code="branch_escape",
        message=f"transition to {target!r} leaves the parallel branch (or ends inside it)",
    )


def _check_missing_next(graph: _Graph) -> list[Problem]:
    problems = []
    for node_id, node in graph.nodes.items():
        if (
            isinstance(node, ActionNode | ParallelNode)
            and node.next is None
            and graph.innermost_parallel(node_id) is None
        ):
            problems.append(
                Problem(
                    path=graph.at(node_id, "next"),
                    code="missing_next",
                    message="`next` may be omitted only on the last node of a parallel branch",
                )
            )
    return problems


class _Finishing:
    """Which nodes can finish, as a worklist (each node and join is settled once, and each
    settles only the nodes that depend on it): ends can; a node can when a target can; a
    parallel can when all (or any) of its branches can and its join can; a join can when the
    parallel's `next` can or, without `next`, when the enclosing parallel's join can; the last
    node of a branch can when its parallel's join can. An unparsed node (its schema problems
    are reported) gets the benefit of the doubt."""

    def __init__(self, graph: _Graph) -> None:
        self.graph = graph
        self.done: set[str] = set()
        self.joins_done: set[str] = set()
        self.queue: deque[tuple[bool, str]] = deque()  # (is a join, node id)
        self.sources: dict[str, list[str]] = {}  # node -> non-parallel nodes with an edge to it
        self.branch_of: dict[str, list[str]] = {}  # node -> parallels it is a branch of (each time)
        self.joined_at: dict[str, list[str]] = {}  # node -> parallels whose `next` it is
        self.owned: dict[str, list[str]] = {}  # parallel -> nodes it is the innermost parallel of
        self.branches_done: dict[str, int] = {}
        self.branches: dict[str, int] = {}
        for node_id, node in graph.nodes.items():
            if isinstance(node, ParallelNode):
                firsts = [first for first in node.branches if first in graph.nodes]
                self.branches[node_id], self.branches_done[node_id] = len(firsts), 0
                for first in firsts:
                    self.branch_of.setdefault(first, []).append(node_id)
                if node.next is not None:
                    self.joined_at.setdefault(node.next, []).append(node_id)
            else:
                for target in graph.edges[node_id]:
                    self.sources.setdefault(target, []).append(node_id)
            owner = graph.innermost_parallel(node_id)
            if owner is not None:
                self.owned.setdefault(owner, []).append(node_id)

    def run(self) -> set[str]:
        for node_id, node in self.graph.nodes.items():
            if isinstance(node, EndNode | UnparsedNode):
                self._finish(node_id)
        while self.queue:
            is_join, node_id = self.queue.popleft()
            if is_join:
                self._after_join(node_id)
            else:
                self._after_node(node_id)
        return self.done

    def _finish(self, node_id: str) -> None:
        if node_id not in self.done:
            self.done.add(node_id)
            self.queue.append((False, node_id))

    def _join(self, parallel_id: str) -> None:
        if parallel_id not in self.joins_done:
            self.joins_done.add(parallel_id)
            self.queue.append((True, parallel_id))

    def _branches_finish(self, parallel_id: str) -> bool:
        parallel = self.graph.nodes[parallel_id]
        assert isinstance(parallel, ParallelNode)
        finished, total = self.branches_done[parallel_id], self.branches[parallel_id]
        return finished == total if parallel.join == "all" else finished > 0

    def _after_node(self, node_id: str) -> None:
        for source in self.sources.get(node_id, ()):
            self._finish(source)
        for parallel_id in self.branch_of.get(node_id, ()):
            self.branches_done[parallel_id] += 1
            if parallel_id in self.joins_done and self._branches_finish(parallel_id):
                self._finish(parallel_id)
        for parallel_id in self.joined_at.get(node_id, ()):
            self._join(parallel_id)

    def _after_join(self, parallel_id: str) -> None:
        if self._branches_finish(parallel_id):
            self._finish(parallel_id)
        for node_id in self.owned.get(parallel_id, ()):
            node = self.graph.nodes[node_id]
            if isinstance(node, ParallelNode) and node.next is None:
                self._join(node_id)
            elif isinstance(node, ActionNode) and node.next is None:
                self._finish(node_id)


def _check_path_to_end(graph: _Graph) -> list[Problem]:
    done = _Finishing(graph).run()
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
    """Every cycle must pass through a delay/wait_for_event that has max_iterations: once the
    guards are removed, each strongly connected component that holds a cycle is reported once,
    at its first node."""
    edges = {
        node_id: [t for t in targets if not _is_guard(graph.nodes[t])]
        for node_id, targets in graph.edges.items()
        if not _is_guard(graph.nodes[node_id])
    }
    cycles = [
        sorted(members, key=lambda n: graph.index[n])
        for members in _components(edges)
        if len(members) > 1 or members[0] in edges[members[0]]
    ]
    return [
        Problem(
            path=graph.at(cycle[0]),
            code="unguarded_loop",
            message=f"cycle through {', '.join(cycle)} has no delay or wait_for_event "
            "with max_iterations",
        )
        for cycle in sorted(cycles, key=lambda cycle: graph.index[cycle[0]])
    ]

"""BPMN flow nodes -> journey nodes (the table: docs/journeys.md, "BPMN import and export").

Each supported element becomes one node whose id is the element's id (or its `xflow:nodeId`);
an element with both an action and an `xflow:Lifecycle` adds a `lifecycle_transition` node
after it (`<id>_lifecycle`). Gateways that only merge become no node: a flow into an exclusive
merge continues past it, a flow into a parallel join ends its branch (the DSL's "no `next`").
"""

from __future__ import annotations

import re
from typing import Any
from xml.etree.ElementTree import Element

from journey.bpmn.expressions import ConditionSyntaxError, parse_condition
from journey.bpmn.extensions import Extensions
from journey.bpmn.labels import default_label
from journey.bpmn.namespaces import (
    CONDITION_LANGUAGE,
    JSON_CONDITION_LANGUAGE,
    bpmn,
    strip_prefix,
)
from journey.bpmn.problems import Problems
from journey.bpmn.reader import Flow, FlowNode, Process
from journey.bpmn.roles import NODE_ROLES, Role

TASK_ACTIONS = ("email", "webhook", "update_attributes", "emit_event")
CONDITION_LANGUAGES = frozenset({CONDITION_LANGUAGE, JSON_CONDITION_LANGUAGE})
_NOT_ID = re.compile(r"[^A-Za-z0-9_-]")
_FIELD_EXPRESSION = re.compile(r"^\$\{\s*([A-Za-z0-9_.-]+)\s*\}$")


class BranchEnd:
    """A flow into a parallel join: the node before it ends its branch (no `next`)."""


BRANCH_END = BranchEnd()
Target = str | BranchEnd | None  # None: could not be resolved (already reported)


class Mapper:
    def __init__(self, process: Process, roles: dict[str, Role], problems: Problems) -> None:
        self.process = process
        self.roles = roles
        self.problems = problems
        self.nodes: list[dict[str, Any]] = []
        # JSON pointer prefix in the journey -> the BPMN element it came from.
        self.origins: dict[str, Element] = {}
        self.node_ids: dict[str, str] = {}
        self.taken: set[str] = set()
        self.trigger: dict[str, Any] | None = None
        self.start: str | None = None
        self._joins: dict[str, FlowNode | None] = {}
        self._closed_by: dict[str, str] = {}
        self._pending: list[set[str]] = []  # per node: keys whose None means "not set"

    # --- ids and targets -----------------------------------------------------------------

    def assign_ids(self) -> None:
        """Ids that are already valid node ids first, so only the others are ever renamed."""
        elements = [
            node
            for node in self.process.nodes.values()
            if self.roles[node.id] in NODE_ROLES or self._is_timer_start(node)
        ]
        for node in elements:
            explicit = node.ext.node_id
            if explicit is not None and explicit in self.taken:
                self.problems.add(
                    node.element, "duplicate_node_id", f"xflow:nodeId {explicit!r} is used twice"
                )
            if explicit is not None or (_NOT_ID.search(node.id) is None and len(node.id) <= 100):
                self.node_ids[node.id] = self._unique(explicit or node.id)
        for node in elements:
            if node.id not in self.node_ids:
                self.node_ids[node.id] = self._unique(_NOT_ID.sub("_", node.id)[:100] or "node")

    def _unique(self, wanted: str) -> str:
        candidate, n = wanted, 1
        while candidate in self.taken:
            n += 1
            candidate = f"{wanted[:95]}_{n}"
        self.taken.add(candidate)
        return candidate

    def _is_timer_start(self, node: FlowNode) -> bool:
        return node.kind == "startEvent" and node.definition() == "timerEventDefinition"

    def resolve(self, flow: Flow, seen: frozenset[str] = frozenset()) -> Target:
        """The node a sequence flow leads to, passing through merges."""
        node = self.process.nodes[flow.target]
        role = self.roles[node.id]
        if role is Role.SKIP:
            return None
        if role is Role.JOIN:
            return BRANCH_END
        if role is Role.END and node.ext.lifecycles:
            return self._lifecycle_id(node)
        if role in NODE_ROLES:
            return self.node_ids[node.id]
        if role is Role.MERGE:
            if node.id in seen:
                self.problems.add(node.element, "gateway_cycle", "gateways loop without a node")
                return None
            return self.resolve(node.outgoing[0], seen | {node.id})
        return None  # into a start or boundary event: reported once, per flow, by the importer

    def next_of(self, node: FlowNode, *, branch_end_ok: bool) -> Target:
        """Where the single outgoing flow of `node` leads."""
        if len(node.outgoing) != 1:
            why = "has no outgoing sequence flow; end the path with an end event"
            if node.outgoing:
                why = (
                    f"has {len(node.outgoing)} outgoing sequence flows; fork with a parallel "
                    "gateway or choose with an exclusive gateway"
                )
            self.problems.add(node.element, "outgoing_flows", f"the {node.kind} {why}")
            return None
        target = self.resolve(node.outgoing[0])
        if target is BRANCH_END and not branch_end_ok:
            self.problems.add(
                node.outgoing[0].element,
                "branch_ends_here",
                "only a task, call activity or nested parallel gateway may end a parallel "
                "branch; put one before the join",
            )
            return None
        return target

    # --- building nodes ------------------------------------------------------------------

    def add(self, source: FlowNode, node: dict[str, Any], ext: Extensions) -> dict[str, Any]:
        """Append a node: id, type and label first, then structure, then the parameters."""
        params = dict(ext.params)
        for name in node:
            if name in params:
                self.problems.add(
                    source.element,
                    "structural_parameter",
                    f"parameter {name!r} is given by the diagram itself; remove it",
                )
                del params[name]
        merged: dict[str, Any] = {"id": node["id"], "type": node["type"]}
        if "name" in params:
            merged["name"] = params.pop("name")
        elif source.name is not None and source.name != default_label(str(node["id"])):
            merged["name"] = source.name
        description = params.pop("description", source.documentation)
        if description is not None:
            merged["description"] = description
        merged.update(node)
        merged.update(params)
        # A structural None is a key filled in later or left out (`finish`); a parameter's null
        # is a value and stays.
        self._pending.append({key for key, value in node.items() if value is None})
        self.origins[f"/nodes/{len(self.nodes)}"] = source.element
        self.nodes.append(merged)
        return merged

    def finish(self) -> list[dict[str, Any]]:
        return [
            {k: v for k, v in node.items() if not (v is None and k in pending)}
            for node, pending in zip(self.nodes, self._pending, strict=True)
        ]

    def _lifecycle_id(self, node: FlowNode) -> str:
        key = f"lifecycle:{node.id}"
        if key not in self.node_ids:
            self.node_ids[key] = self._unique(f"{self.node_ids.get(node.id, node.id)}_lifecycle")
        return self.node_ids[key]

    def after(self, node: FlowNode, target: Target) -> Target:
        """`target`, preceded by the lifecycle transition `node` carries, if any."""
        if not node.ext.lifecycles or target is None:
            return target
        if len(node.ext.lifecycles) > 1:
            self.problems.add(node.element, "multiple_lifecycles", "one xflow:Lifecycle only")
        lifecycle = node.ext.lifecycles[0]
        transition: dict[str, Any] = {
            "id": self._lifecycle_id(node),
            "type": "lifecycle_transition",
            "stage": lifecycle.stage,
            "reason": lifecycle.reason,
            "next": target if isinstance(target, str) else None,
        }
        self.origins[f"/nodes/{len(self.nodes)}"] = node.element
        self.nodes.append(transition)
        self._pending.append({"reason", "next"})
        return str(transition["id"])

    def no_extensions(self, node: FlowNode, why: str) -> None:
        if not node.ext.empty:
            self.problems.add(node.element, "extension_ignored", f"xflow content here {why}")

    # --- shared readers ------------------------------------------------------------------

    def event_type(self, node: FlowNode, holder: Element) -> str | None:
        reference = holder.get("messageRef")
        if not reference:
            self.problems.add(
                node.element,
                "missing_message",
                "name a bpmn:message (messageRef): its name is the event type to wait for",
            )
            return None
        message = self.process.messages.get(strip_prefix(reference))
        if message is None or not message.get("name"):
            self.problems.add(
                node.element,
                "missing_message",
                f"messageRef {reference!r} names no bpmn:message with a name",
            )
            return None
        return message.get("name")

    def timer(self, node: FlowNode, *, fields_allowed: bool) -> dict[str, Any]:
        """`duration` from timeDuration, `until_field` from timeDate `${user.attributes.x}`."""
        definition = node.element.find(bpmn("timerEventDefinition"))
        if definition is None:
            return {}
        cycle = definition.find(bpmn("timeCycle"))
        duration = definition.find(bpmn("timeDuration"))
        date = definition.find(bpmn("timeDate"))
        if cycle is not None:
            self.problems.add(
                node.element,
                "unsupported_timer",
                "repeating timers (timeCycle) are not supported; loop through a delay that "
                "sets max_iterations",
            )
        if duration is not None:
            text = (duration.text or "").strip()
            if text.startswith(("${", "#{")):
                self.problems.add(
                    node.element,
                    "unsupported_timer",
                    "a timeDuration must be an ISO 8601 duration such as PT2H, not an expression",
                )
                return {}
            return {"duration": text}
        if date is not None:
            match = _FIELD_EXPRESSION.match((date.text or "").strip())
            if match and fields_allowed:
                return {"until_field": match.group(1)}
            self.problems.add(
                node.element,
                "unsupported_timer",
                "a timeDate must name a timestamp field, e.g. ${user.attributes.trial_ends_at}"
                if fields_allowed
                else "this timer needs a timeDuration (ISO 8601, e.g. P3D)",
            )
        return {}

    def condition(self, flow: Flow) -> Any:
        expression = flow.condition
        if expression is None:
            return None
        language = expression.get("language")
        if language is not None and language not in CONDITION_LANGUAGES:
            self.problems.add(
                flow.element,
                "unsupported_condition_language",
                f"conditions in {language!r} are not supported; write the shared condition "
                "language (JSON) or the simple syntax (docs/journeys.md: BPMN import and export)",
            )
            return None
        try:
            return parse_condition(expression.text or "")
        except ConditionSyntaxError as exc:
            self.problems.add(flow.element, "invalid_condition_expression", str(exc))
            return None

    def join_of(self, fork: FlowNode, stack: frozenset[str] = frozenset()) -> FlowNode | None:
        """The parallel join that closes every branch of `fork` (nested forks skipped)."""
        if fork.id in self._joins:
            return self._joins[fork.id]
        self._joins[fork.id] = None  # a fork reached again through a loop closes nothing
        joins: dict[str, FlowNode] = {}
        queue = [self.process.nodes[flow.target] for flow in fork.outgoing]
        seen: set[str] = set()
        while queue:
            current = queue.pop()
            if current.id in seen:
                continue
            seen.add(current.id)
            role = self.roles[current.id]
            if role is Role.JOIN:
                joins[current.id] = current
                continue
            if role is Role.FORK and current.id not in stack:
                inner = self.join_of(current, stack | {fork.id})
                onward = inner.outgoing if inner is not None else []
            else:
                onward = [*current.outgoing]
                for boundary in current.boundaries:
                    onward.extend(boundary.outgoing)
            queue.extend(self.process.nodes[flow.target] for flow in onward)
        if len(joins) != 1:
            why = "no parallel join closes its branches (every branch must flow into one)"
            if joins:
                why = f"its branches end in different joins ({', '.join(sorted(joins))})"
            self.problems.add(fork.element, "unmatched_fork", why)
            return None
        join = next(iter(joins.values()))
        owner = self._closed_by.setdefault(join.id, fork.id)
        if owner != fork.id:
            self.problems.add(
                join.element,
                "shared_join",
                f"the join closes both {owner!r} and {fork.id!r}; give each fork its own join",
            )
        self._joins[fork.id] = join
        return join


def fill(created: dict[str, Any], key: str, target: Target) -> None:
    """Set a transition that resolved; one that did not was reported, or ends a branch."""
    if isinstance(target, str):
        created[key] = target

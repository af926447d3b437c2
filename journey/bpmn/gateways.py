"""Gateways: exclusive (condition, A/B split), parallel (fork and join), event-based (a wait).

Only gateways that split become nodes; journey.bpmn.roles decides which do.
"""

from __future__ import annotations

from typing import Any

from journey.bpmn.extensions import Extensions
from journey.bpmn.mapping import BRANCH_END, Mapper, Target, fill
from journey.bpmn.namespaces import bpmn
from journey.bpmn.reader import Flow, FlowNode
from journey.bpmn.roles import Role


def event_gateway(m: Mapper, node: FlowNode) -> None:
    events = [m.process.nodes[flow.target] for flow in node.outgoing]
    owned = [event for event in events if m.roles[event.id] is Role.ABSORBED]
    messages = [event for event in owned if event.definition() == "messageEventDefinition"]
    timers = [event for event in owned if event.definition() == "timerEventDefinition"]
    for other in events:
        if other not in messages and other not in timers and m.roles[other.id] is not Role.SKIP:
            m.problems.add(
                other.element,
                "unsupported_event_gateway_target",
                "after an event-based gateway Journey reads one message catch event and one "
                "timer catch event",
            )
    if len(messages) != 1 or len(timers) != 1:
        m.problems.add(
            node.element,
            "event_gateway_shape",
            f"needs exactly one message and one timer catch event after it; has "
            f"{len(messages)} message and {len(timers)} timer",
        )
        return
    if node.ext.lifecycles:
        m.problems.add(
            node.element, "extension_ignored", "put xflow:Lifecycle on the catch events instead"
        )
    received, timer = messages[0], timers[0]
    if timer.ext.params or timer.ext.action:
        m.problems.add(timer.element, "extension_ignored", "a timer here takes no parameters")
    params = dict(node.ext.params)
    for name, value in received.ext.params.items():
        if name in params:
            m.problems.add(received.element, "duplicate_parameter", f"{name!r} is given twice")
        params[name] = value
    definition = received.element.find(bpmn("messageEventDefinition"))
    event_type = m.event_type(received, definition if definition is not None else node.element)
    timeout = m.timer(timer, fields_allowed=False).get("duration")
    if timeout is None and timer.element.find(bpmn("timerEventDefinition")) is not None:
        m.problems.add(timer.element, "unsupported_timer", "needs a timeDuration, e.g. P3D")
    on_event = m.after(received, m.next_of(received, branch_end_ok=False))
    on_timeout = m.after(timer, m.next_of(timer, branch_end_ok=False))
    fields = {"id": m.node_ids[node.id], "type": "wait_for_event", "event_type": event_type}
    fields |= {"timeout": timeout, "on_event": None, "on_timeout": None}
    created = m.add(node, fields, Extensions(params=params))
    fill(created, "on_event", on_event)
    fill(created, "on_timeout", on_timeout)


def choice(m: Mapper, node: FlowNode) -> None:
    if node.ext.lifecycles:
        m.problems.add(
            node.element, "extension_ignored", "xflow:Lifecycle belongs on tasks and events"
        )
    if any(flow.ext.weight is not None or flow.ext.variant is not None for flow in node.outgoing):
        _split(m, node)
        return
    default_id = node.element.get("default")
    index = len(m.nodes)
    branches: list[dict[str, Any]] = []
    default: Target = None
    for flow in node.outgoing:
        target = _branch_target(m, flow)
        if flow.id == default_id:
            default = target
            m.origins[f"/nodes/{index}/default"] = flow.element
            if flow.condition is not None:
                m.problems.add(
                    flow.element, "default_with_condition", "the default flow takes no condition"
                )
            continue
        if flow.condition is None:
            m.problems.add(
                flow.element,
                "missing_condition",
                "every flow out of an exclusive gateway needs a condition, except its default",
            )
        m.origins[f"/nodes/{index}/branches/{len(branches)}"] = flow.element
        branches.append({"when": m.condition(flow), "next": target})
    if default_id is None:
        m.problems.add(
            node.element,
            "missing_default",
            "an exclusive gateway needs a default flow: Journey always takes exactly one path",
        )
    fields = {"id": m.node_ids[node.id], "type": "condition", "branches": branches}
    created = m.add(node, {**fields, "default": None}, node.ext)
    fill(created, "default", default)


def _split(m: Mapper, node: FlowNode) -> None:
    if node.element.get("default"):
        m.problems.add(node.element, "split_with_default", "an A/B split has no default flow")
    index = len(m.nodes)
    variants: list[dict[str, Any]] = []
    for flow in node.outgoing:
        name = flow.ext.variant or flow.ext.take("variant") or flow.element.get("name")
        if flow.ext.weight is None or not name:
            m.problems.add(
                flow.element,
                "incomplete_variant",
                "every flow out of an A/B split needs xflow:weight and a variant name "
                "(xflow:variant or the flow's name)",
            )
        if flow.condition is not None:
            m.problems.add(flow.element, "variant_with_condition", "variants take no condition")
        m.origins[f"/nodes/{index}/variants/{len(variants)}"] = flow.element
        variants.append({"name": name, "weight": flow.ext.weight, "next": _branch_target(m, flow)})
    m.add(node, {"id": m.node_ids[node.id], "type": "split", "variants": variants}, node.ext)


def _branch_target(m: Mapper, flow: Flow) -> Target:
    target = m.resolve(flow)
    if target is BRANCH_END:
        m.problems.add(
            flow.element, "branch_ends_here", "a path out of a gateway cannot end a parallel branch"
        )
        return None
    return target


def fork(m: Mapper, node: FlowNode) -> None:
    if node.ext.lifecycles:
        m.problems.add(
            node.element, "extension_ignored", "xflow:Lifecycle belongs on tasks and events"
        )
    index = len(m.nodes)
    branches: list[Target] = []
    for flow in node.outgoing:
        m.origins[f"/nodes/{index}/branches/{len(branches)}"] = flow.element
        branches.append(_branch_target(m, flow))
    join = m.join_of(node)
    after: Target = None
    if join is not None:
        mode = join.ext.take("join")
        if mode is not None and node.ext.params.setdefault("join", mode) != mode:
            m.problems.add(join.element, "conflicting_join", "the fork and its join disagree")
        after = m.resolve(join.outgoing[0]) if join.outgoing else None
    fields = {"id": m.node_ids[node.id], "type": "parallel", "branches": branches}
    created = m.add(node, {**fields, "next": None}, node.ext)
    fill(created, "next", after)

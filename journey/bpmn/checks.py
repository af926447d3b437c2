"""What the element-by-element mapping would otherwise pass over in silence.

Attributes and extensions that only mean something in certain places (a condition on a flow, an
xflow:Action, a boundary event) are checked here wherever they are, so nothing in a diagram is
silently dropped: it either maps, or it is reported.
"""

from __future__ import annotations

from journey.bpmn.mapping import Mapper
from journey.bpmn.roles import Role

_BOUNDARY_HOSTS = frozenset({Role.TASK, Role.CALL, Role.RECEIVE, Role.SKIP})


def check_unmapped(m: Mapper) -> None:
    for node in m.process.nodes.values():
        role = m.roles[node.id]
        if role is Role.SKIP:
            continue
        if role in (Role.MERGE, Role.JOIN):
            m.no_extensions(node, "has no effect: merging gateways become no journey node")
        elif node.ext.action and role is not Role.TASK:
            m.problems.add(
                node.element,
                "extension_ignored",
                "xflow:Action belongs on service, send or plain tasks",
            )
        if len(node.definitions()) > 1:
            m.problems.add(
                node.element,
                "multiple_event_definitions",
                "an event with several definitions (a BPMN multiple event) is not supported",
            )
        if role is Role.EVENT_GATEWAY and (
            node.element.get("instantiate") == "true"
            or node.element.get("eventGatewayType") == "Parallel"
        ):
            m.problems.add(
                node.element,
                "unsupported_element",
                "only an exclusive, non-instantiating event-based gateway is supported",
            )
        if (
            role is Role.CHOICE
            and node.element.get("default") not in (None, "")
            and not any(flow.id == node.element.get("default") for flow in node.outgoing)
        ):
            m.problems.add(
                node.element,
                "dangling_default",
                f"default names {node.element.get('default')!r}, which is not a flow out of it",
            )
        for boundary in node.boundaries:
            if role not in _BOUNDARY_HOSTS:
                m.problems.add(
                    boundary.element,
                    "unsupported_boundary",
                    f"boundary events attach to tasks and call activities, not a bpmn:{node.kind}",
                )
    _check_flows(m)


def _check_flows(m: Mapper) -> None:
    for flow in m.process.flows:
        source = m.process.nodes.get(flow.source)
        target = m.process.nodes.get(flow.target)
        source_role = m.roles[source.id] if source is not None else Role.SKIP
        if target is not None and m.roles[target.id] in (Role.START, Role.BOUNDARY):
            m.problems.add(
                flow.element,
                "flow_into_event",
                f"a sequence flow cannot lead into a bpmn:{target.kind}",
            )
        if not flow.ext.empty:
            m.problems.add(flow.element, "extension_ignored", "sequence flows take no parameters")
        weighted = flow.ext.weight is not None or flow.ext.variant is not None
        if weighted and source_role is not Role.CHOICE:
            m.problems.add(
                flow.element,
                "extension_ignored",
                "xflow:variant and xflow:weight belong on flows out of an exclusive gateway",
            )
        if flow.condition is not None and source_role not in (Role.CHOICE, Role.SKIP):
            m.problems.add(
                flow.element,
                "unsupported_condition",
                "conditions are read on flows out of an exclusive gateway only; put one before "
                "the choice",
            )

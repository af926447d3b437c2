"""One function per role: what a BPMN element becomes in the journey.

The table is in docs/journeys.md, "BPMN import and export".

Every function reports what it cannot map instead of guessing, and keeps going, so one import
lists every problem of the diagram.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from journey.bpmn.gateways import choice, event_gateway, fork
from journey.bpmn.mapping import TASK_ACTIONS, Mapper, Target, fill
from journey.bpmn.namespaces import bpmn
from journey.bpmn.reader import FlowNode
from journey.bpmn.roles import Role

_ACTION_HINTS = {
    "sub_journey": "use a call activity (calledElement = the journey id)",
    "lifecycle_transition": "use <xflow:Lifecycle stage=...> on the task instead",
    "wait_for_event": "use a receive task or a message catch event",
    "delay": "use a timer catch event",
}


def _boundary_target(m: Mapper, host: FlowNode, allowed: str) -> tuple[FlowNode | None, Target]:
    """The one boundary event of kind `allowed` on `host` and where it leads."""
    found: FlowNode | None = None
    for boundary in host.boundaries:
        kind = boundary.definition()
        if kind != allowed:
            m.problems.add(
                boundary.element,
                "unsupported_boundary",
                f"a boundary event with {kind or 'no event definition'} is not supported on a "
                f"bpmn:{host.kind}; only {allowed} is",
            )
        elif found is not None:
            m.problems.add(boundary.element, "duplicate_boundary", f"one {allowed} per activity")
        elif boundary.element.get("cancelActivity") == "false":
            m.problems.add(
                boundary.element,
                "non_interrupting_boundary",
                "non-interrupting boundary events are not supported",
            )
        else:
            found = boundary
    if found is None:
        return None, None
    if found.ext.params:
        m.problems.add(found.element, "extension_ignored", "a boundary event takes no parameters")
    return found, m.after(found, m.next_of(found, branch_end_ok=False))


def task(m: Mapper, node: FlowNode) -> None:
    ext = node.ext
    _, on_error = _boundary_target(m, node, "errorEventDefinition")
    target = m.next_of(node, branch_end_ok=True)
    node_id = m.node_ids[node.id]
    if ext.action is None:
        if not ext.lifecycles:
            m.problems.add(
                node.element,
                "missing_action",
                f"a bpmn:{node.kind} needs an xflow:Action ({', '.join(TASK_ACTIONS)}) or an "
                "xflow:Lifecycle",
            )
            return
        milestone(m, node, on_error=on_error, target=target)
        return
    if ext.action not in TASK_ACTIONS:
        hint = _ACTION_HINTS.get(ext.action, f"expected one of {', '.join(TASK_ACTIONS)}")
        m.problems.add(node.element, "unknown_action", f"action {ext.action!r}: {hint}")
        return
    created = m.add(node, {"id": node_id, "type": ext.action, "next": None, "on_error": None}, ext)
    fill(created, "on_error", on_error)
    fill(created, "next", m.after(node, target))


def milestone(m: Mapper, node: FlowNode, *, on_error: Target = None, target: Target = None) -> None:
    """A task or throw event that only carries an xflow:Lifecycle: a lifecycle_transition."""
    if node.kind == "intermediateThrowEvent":
        target = m.next_of(node, branch_end_ok=True)
        if not node.ext.lifecycles:
            m.problems.add(
                node.element,
                "no_effect",
                "a none throw event does nothing in a journey; give it an xflow:Lifecycle or "
                "remove it",
            )
            return
    if len(node.ext.lifecycles) > 1:
        m.problems.add(node.element, "multiple_lifecycles", "one xflow:Lifecycle only")
    lifecycle = node.ext.lifecycles[0]
    fields: dict[str, Any] = {"id": m.node_ids[node.id], "type": "lifecycle_transition"}
    fields["stage"] = lifecycle.stage
    if lifecycle.reason is not None:
        fields["reason"] = lifecycle.reason
    created = m.add(node, {**fields, "next": None, "on_error": None}, node.ext)
    fill(created, "on_error", on_error)
    fill(created, "next", target)


def call(m: Mapper, node: FlowNode) -> None:
    # A journey id XML cannot hold in an attribute travels as a `journey_id` parameter.
    journey_id = node.element.get("calledElement") or node.ext.take("journey_id")
    if not journey_id:
        m.problems.add(
            node.element, "missing_called_element", "calledElement must name the journey to run"
        )
    _, on_error = _boundary_target(m, node, "errorEventDefinition")
    target = m.next_of(node, branch_end_ok=True)
    fields = {"id": m.node_ids[node.id], "type": "sub_journey", "journey_id": journey_id}
    created = m.add(node, {**fields, "next": None, "on_error": None}, node.ext)
    fill(created, "on_error", on_error)
    fill(created, "next", m.after(node, target))


def receive(m: Mapper, node: FlowNode) -> None:
    if node.element.get("instantiate") == "true":
        m.problems.add(
            node.element, "unsupported_element", "use a message start event to start a journey"
        )
    event_type = m.event_type(node, node.element)
    boundary, on_timeout = _boundary_target(m, node, "timerEventDefinition")
    timeout = m.timer(boundary, fields_allowed=False).get("duration") if boundary else None
    _wait(m, node, event_type, timeout, boundary, on_timeout)


def message(m: Mapper, node: FlowNode) -> None:
    definition = node.element.find(bpmn("messageEventDefinition"))
    event_type = m.event_type(node, definition if definition is not None else node.element)
    _wait(m, node, event_type, None, None, None)


def _wait(
    m: Mapper,
    node: FlowNode,
    event_type: str | None,
    timeout: str | None,
    boundary: FlowNode | None,
    on_timeout: Target,
) -> None:
    """A wait without a boundary timer takes `xflow:timeout` and goes on the same way after it."""
    on_event = m.after(node, m.next_of(node, branch_end_ok=False))
    if boundary is None:
        timeout = node.ext.take("timeout")
        on_timeout = on_event
        if timeout is None:
            m.problems.add(
                node.element,
                "missing_timeout",
                "a wait needs a limit: attach an interrupting timer boundary event (receive "
                "task), put it behind an event-based gateway with a timer, or set xflow:timeout",
            )
    fields = {"id": m.node_ids[node.id], "type": "wait_for_event", "event_type": event_type}
    fields |= {"timeout": timeout, "on_event": None, "on_timeout": None}
    created = m.add(node, fields, node.ext)
    fill(created, "on_event", on_event)
    fill(created, "on_timeout", on_timeout)


def timer(m: Mapper, node: FlowNode) -> None:
    fields = {"id": m.node_ids[node.id], "type": "delay", **m.timer(node, fields_allowed=True)}
    target = m.next_of(node, branch_end_ok=False)
    created = m.add(node, {**fields, "next": None}, node.ext)
    fill(created, "next", m.after(node, target))


def end(m: Mapper, node: FlowNode) -> None:
    if node.definition() not in (None, "terminateEventDefinition"):
        m.problems.add(
            node.element,
            "unsupported_event",
            f"an end event with {node.definition()} is not supported; to publish an event "
            "use a send task (emit_event) before a plain end event",
        )
    if node.outgoing:
        m.problems.add(node.element, "outgoing_flows", "an end event has no outgoing flows")
    node_id = m.node_ids[node.id]
    m.add(node, {"id": node_id, "type": "end"}, node.ext)
    if node.ext.lifecycles:
        m.after(node, node_id)


HANDLERS: dict[Role, Callable[[Mapper, FlowNode], None]] = {
    Role.TASK: task,
    Role.CALL: call,
    Role.RECEIVE: receive,
    Role.MESSAGE: message,
    Role.EVENT_GATEWAY: event_gateway,
    Role.TIMER: timer,
    Role.END: end,
    Role.CHOICE: choice,
    Role.FORK: fork,
    Role.MILESTONE: milestone,
}

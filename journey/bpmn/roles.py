"""What each BPMN flow node is for a journey, decided from its type, definition and degree.

A gateway's role depends on how it is wired: one that splits is a node (condition, split,
parallel fork), one that merges is not (an exclusive merge passes straight on; a parallel join
ends the branches of its fork). Catch events right after an event-based gateway belong to it.
"""

from __future__ import annotations

from enum import StrEnum

from journey.bpmn.problems import Problems
from journey.bpmn.reader import FlowNode, Process


class Role(StrEnum):
    START = "start"
    END = "end"
    TASK = "task"  # service, send or plain task: an action or a lifecycle transition
    RECEIVE = "receive"  # receive task: wait_for_event
    CALL = "call"  # call activity: sub_journey
    CHOICE = "choice"  # diverging exclusive gateway: condition, or split with weighted flows
    MERGE = "merge"  # converging exclusive gateway, or any 1-in-1-out gateway: passes through
    FORK = "fork"  # diverging parallel gateway: parallel
    JOIN = "join"  # converging parallel gateway: ends the branches of its fork
    EVENT_GATEWAY = "event_gateway"  # event-based gateway: wait_for_event
    ABSORBED = "absorbed"  # a catch event that belongs to an event-based gateway
    TIMER = "timer"  # timer intermediate catch event: delay
    MESSAGE = "message"  # message intermediate catch event on its own: wait_for_event
    MILESTONE = "milestone"  # none intermediate throw event with xflow:Lifecycle
    BOUNDARY = "boundary"  # read by the activity it is attached to
    SKIP = "skip"  # unsupported or broken: already reported


TASKS = frozenset({"serviceTask", "sendTask", "task"})
GATEWAYS = {
    "exclusiveGateway": (Role.CHOICE, Role.MERGE),
    "parallelGateway": (Role.FORK, Role.JOIN),
}

# Roles whose element becomes (at least) one journey node.
NODE_ROLES = frozenset(
    {
        Role.END,
        Role.TASK,
        Role.RECEIVE,
        Role.CALL,
        Role.CHOICE,
        Role.FORK,
        Role.EVENT_GATEWAY,
        Role.TIMER,
        Role.MESSAGE,
        Role.MILESTONE,
    }
)


def assign_roles(process: Process, problems: Problems) -> dict[str, Role]:
    roles = {node.id: _role(node, problems) for node in process.nodes.values()}
    for node in process.nodes.values():
        if roles[node.id] is not Role.EVENT_GATEWAY:
            continue
        for flow in node.outgoing:
            target = process.nodes[flow.target]
            if target.kind == "intermediateCatchEvent" and len(target.incoming) == 1:
                roles[target.id] = Role.ABSORBED
            elif target.kind == "intermediateCatchEvent":
                problems.add(
                    target.element,
                    "shared_catch_event",
                    "a catch event after an event-based gateway must have that gateway as its "
                    "only incoming flow",
                )
                roles[target.id] = Role.SKIP
    return roles


def _role(node: FlowNode, problems: Problems) -> Role:
    if not node.supported:
        return Role.SKIP
    kind = node.kind
    if kind == "startEvent":
        return Role.START
    if kind == "endEvent":
        return Role.END
    if kind in TASKS:
        return Role.TASK
    if kind == "receiveTask":
        return Role.RECEIVE
    if kind == "callActivity":
        return Role.CALL
    if kind == "boundaryEvent":
        return Role.BOUNDARY
    if kind == "eventBasedGateway":
        return Role.EVENT_GATEWAY
    if kind in GATEWAYS:
        return _gateway_role(node, problems)
    if kind == "intermediateCatchEvent":
        definition = node.definition()
        if definition == "timerEventDefinition":
            return Role.TIMER
        if definition == "messageEventDefinition":
            return Role.MESSAGE
        _report_catch_definition(node, problems)
        return Role.SKIP
    if kind == "intermediateThrowEvent":
        if node.definitions():
            problems.add(
                node.element,
                "unsupported_event",
                f"{node.definition()} on a throw event is not supported; to publish an event "
                "use a send task with xflow:Action type emit_event",
            )
            return Role.SKIP
        return Role.MILESTONE
    return Role.SKIP


def _gateway_role(node: FlowNode, problems: Problems) -> Role:
    diverging, converging = GATEWAYS[node.kind]
    ins, outs = len(node.incoming), len(node.outgoing)
    if outs == 0:
        problems.add(node.element, "gateway_without_outgoing", "the gateway leads nowhere")
        return Role.SKIP
    if ins > 1 and outs > 1:
        problems.add(
            node.element,
            "mixed_gateway",
            "a gateway that both merges and splits is ambiguous; use two gateways",
        )
        return Role.SKIP
    if outs > 1:
        return diverging
    if ins > 1 and converging is Role.JOIN:
        return Role.JOIN
    return Role.MERGE


def _report_catch_definition(node: FlowNode, problems: Problems) -> None:
    definition = node.definition() or "no event definition"
    problems.add(
        node.element,
        "unsupported_event",
        f"a catch event with {definition} is not supported; Journey waits for time (timer) "
        "or for an event (message)",
    )

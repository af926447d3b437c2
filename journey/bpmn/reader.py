"""The process of a BPMN document as a small graph: flow nodes and the sequence flows between.

Only structure is read here; what each element means for a journey is journey.bpmn.mapping's
business. Everything in the process that is not part of the supported subset is reported with
the reason, so the author learns every change the diagram needs in one pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from xml.etree.ElementTree import Element

from journey.bpmn.extensions import Extensions, read_extensions
from journey.bpmn.namespaces import BPMN, bpmn, split_tag, strip_prefix
from journey.bpmn.problems import Problems

FLOW_NODES = frozenset(
    {
        "startEvent",
        "endEvent",
        "serviceTask",
        "sendTask",
        "task",
        "receiveTask",
        "callActivity",
        "exclusiveGateway",
        "parallelGateway",
        "eventBasedGateway",
        "intermediateCatchEvent",
        "intermediateThrowEvent",
        "boundaryEvent",
    }
)
# Documentation and layout: they describe the diagram and change nothing a run does.
IGNORED = frozenset(
    {"documentation", "extensionElements", "laneSet", "textAnnotation", "association", "group"}
)
EVENT_DEFINITIONS = frozenset(
    {
        "messageEventDefinition",
        "timerEventDefinition",
        "errorEventDefinition",
        "terminateEventDefinition",
        "signalEventDefinition",
        "escalationEventDefinition",
        "conditionalEventDefinition",
        "compensateEventDefinition",
        "cancelEventDefinition",
        "linkEventDefinition",
        "eventDefinitionRef",
    }
)
_NODE_CHILDREN = frozenset({"documentation", "extensionElements", "incoming", "outgoing"})

UNSUPPORTED_REASONS = {
    "userTask": "Journey runs without people: there is no task list to assign work to; "
    "wait for the event that says the work is done (a receive task) instead",
    "manualTask": "Journey runs without people; wait for an event (a receive task) instead",
    "scriptTask": "Journey runs no scripts; use a service task with an xflow:Action",
    "businessRuleTask": "Journey has no decision-table engine; use an exclusive gateway "
    "with conditions",
    "subProcess": "embedded sub-processes are not supported; model the steps inline or use "
    "a call activity (sub_journey)",
    "adHocSubProcess": "ad-hoc sub-processes are not supported",
    "transaction": "transactions are not supported",
    "inclusiveGateway": "an inclusive gateway may take several paths at once; use a "
    "parallel gateway (all paths) or an exclusive gateway (one path)",
    "complexGateway": "complex gateways are not supported; use exclusive or parallel gateways",
    "dataObject": "data objects have no meaning in a journey; data lives in user attributes, "
    "the event and vars",
    "dataObjectReference": "data objects have no meaning in a journey",
    "dataStoreReference": "data stores have no meaning in a journey; use update_attributes",
    "callChoreography": "choreographies are not supported",
    "subChoreography": "choreographies are not supported",
    "choreographyTask": "choreographies are not supported",
    "implicitThrowEvent": "not supported",
}


@dataclass
class Flow:
    element: Element
    id: str
    source: str
    target: str
    ext: Extensions

    @property
    def condition(self) -> Element | None:
        return self.element.find(bpmn("conditionExpression"))


@dataclass
class FlowNode:
    element: Element
    id: str
    kind: str
    ext: Extensions
    incoming: list[Flow] = field(default_factory=list)
    outgoing: list[Flow] = field(default_factory=list)
    boundaries: list[FlowNode] = field(default_factory=list)
    # False for an element outside the subset: already reported, and flows into it are quiet.
    supported: bool = True

    @property
    def name(self) -> str | None:
        return self.element.get("name")

    @property
    def documentation(self) -> str | None:
        found = self.element.find(bpmn("documentation"))
        return found.text if found is not None and found.text else None

    def definitions(self) -> list[Element]:
        return [child for child in self.element if _bpmn_local(child) in EVENT_DEFINITIONS]

    def definition(self) -> str | None:
        """The local name of the single event definition (None for a none event)."""
        found = self.definitions()
        return _bpmn_local(found[0]) if found else None


@dataclass
class Process:
    element: Element
    ext: Extensions
    nodes: dict[str, FlowNode]
    flows: list[Flow]
    messages: dict[str, Element]


def _bpmn_local(element: Element) -> str | None:
    uri, local = split_tag(element.tag)
    return local if uri == BPMN else None


def read_process(root: Element, problems: Problems) -> Process | None:
    """The one process to import (None when there is none), every other one reported."""
    _check_collaborations(root, problems)
    processes = root.findall(bpmn("process"))
    if not processes:
        problems.add(root, "no_process", "the document has no bpmn:process")
        return None
    populated = [p for p in processes if any(_bpmn_local(c) in FLOW_NODES for c in p)] or [
        processes[0]
    ]
    executable = [p for p in populated if p.get("isExecutable") == "true"]
    chosen = (executable or populated)[0]
    for other in populated:
        if other is not chosen:
            problems.add(
                other,
                "multiple_processes",
                f"only one process becomes a journey; this one is left out (imported: "
                f"{chosen.get('id')!r}); split the diagram into one file per journey",
            )
    messages = {m.get("id", ""): m for m in root.findall(bpmn("message"))}
    return _read(chosen, messages, problems)


def _check_collaborations(root: Element, problems: Problems) -> None:
    for collaboration in root.findall(bpmn("collaboration")):
        for flow in collaboration.findall(bpmn("messageFlow")):
            problems.add(
                flow,
                "unsupported_element",
                "message flows between pools are not supported; a journey reacts to events "
                "(message events whose message name is the event type)",
            )


def _read(element: Element, messages: dict[str, Element], problems: Problems) -> Process:
    process = Process(element, read_extensions(element, problems), {}, [], messages)
    for child in element:
        local = _bpmn_local(child)
        if local is None or local in IGNORED:
            continue
        if local == "sequenceFlow":
            source, target = child.get("sourceRef", ""), child.get("targetRef", "")
            ext = read_extensions(child, problems)
            process.flows.append(Flow(child, child.get("id", ""), source, target, ext))
        elif local in FLOW_NODES:
            _add_node(process, child, local, problems)
        else:
            reason = UNSUPPORTED_REASONS.get(local, "not part of the BPMN subset Journey maps")
            problems.add(child, "unsupported_element", reason)
            node_id = child.get("id")
            if node_id and node_id not in process.nodes:
                placeholder = FlowNode(child, node_id, local, Extensions(), supported=False)
                process.nodes[node_id] = placeholder
    _connect(process, problems)
    return process


def _add_node(process: Process, element: Element, kind: str, problems: Problems) -> None:
    node_id = element.get("id")
    if not node_id:
        problems.add(element, "missing_id", f"a bpmn:{kind} has no id")
        return
    if node_id in process.nodes:
        problems.add(element, "duplicate_id", f"the id {node_id!r} is used twice")
        return
    for child in element:
        local = _bpmn_local(child)
        if local is None or local in _NODE_CHILDREN or local in EVENT_DEFINITIONS:
            continue
        why = "loops and multi-instance activities are not supported; loop through a delay or "
        why += "wait (with max_iterations) instead"
        if "LoopCharacteristics" not in local:
            why = "data inputs, outputs and properties have no meaning in a journey"
        problems.add(element, "unsupported_child", f"bpmn:{local}: {why}")
    if element.get("isForCompensation") == "true":
        problems.add(element, "unsupported_element", "compensation is not supported")
    process.nodes[node_id] = FlowNode(element, node_id, kind, read_extensions(element, problems))


def _connect(process: Process, problems: Problems) -> None:
    for flow in process.flows:
        source, target = process.nodes.get(flow.source), process.nodes.get(flow.target)
        if source is None or target is None:
            missing = flow.source if source is None else flow.target
            problems.add(
                flow.element,
                "dangling_flow",
                f"the sequence flow connects {missing!r}, which is not a supported flow node "
                "of this process",
            )
            continue
        source.outgoing.append(flow)
        target.incoming.append(flow)
    for node in process.nodes.values():
        order = [strip_prefix(ref.text or "") for ref in node.element.findall(bpmn("outgoing"))]
        node.outgoing.sort(key=lambda f: order.index(f.id) if f.id in order else len(order))
        if node.kind == "boundaryEvent":
            host = process.nodes.get(strip_prefix(node.element.get("attachedToRef", "")))
            if host is None:
                problems.add(
                    node.element, "dangling_boundary", "attachedToRef names no activity here"
                )
            else:
                host.boundaries.append(node)

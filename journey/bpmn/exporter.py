"""`export_bpmn`: any journey as BPMN 2.0 XML, laid out, that `import_bpmn` reads back equal.

Each node becomes one element whose id is the node id (prefixed `n.` with `xflow:nodeId` when
the node id cannot be an XML id); generated elements (the start event, joins, boundary events,
flows) have ids with a dot, which node ids never contain, so nothing collides. The mapping is
the import's table read backwards; see docs/journeys.md, "BPMN import and export".
"""

from __future__ import annotations

import re
from collections import Counter
from xml.etree import ElementTree as ET
from xml.etree.ElementTree import Element, SubElement

from dsl.document import JourneyDocument
from dsl.durations import format_duration
from dsl.nodes import (
    ActionNode,
    ConditionNode,
    DelayNode,
    LifecycleTransitionNode,
    NodeBase,
    ParallelNode,
    SplitNode,
    SubJourneyNode,
    WaitForEventNode,
    node_type_name,
)
from journey.bpmn.diagram import Flow, Shape, diagram_element, flow_element, shape_element
from journey.bpmn.encoding import (
    FORMAL_EXPRESSION,
    XSI_TYPE,
    attribute_safe,
    condition_expression,
    node_params,
    non_default_fields,
    parameters,
    text_safe,
    timer_definition,
)
from journey.bpmn.labels import default_label
from journey.bpmn.namespaces import PREFIXES, bpmn, xflow
from journey.bpmn.regions import innermost_parallels

START_ID = "start.event"
PROCESS_ID = "process.journey"
_XML_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
_SEND = ("email", "emit_event")

for _prefix, _uri in PREFIXES.items():
    ET.register_namespace(_prefix, _uri)


def export_bpmn(document: JourneyDocument) -> str:
    """The journey as a BPMN 2.0 document (UTF-8 text with an XML declaration)."""
    return _Exporter(document).build()


def bpmn_id(node_id: str) -> str:
    return node_id if _XML_ID.match(node_id) else f"n.{node_id}"


class _Exporter:
    def __init__(self, document: JourneyDocument) -> None:
        self.document = document
        self.ids = {node.id: bpmn_id(node.id) for node in document.nodes}
        self.owner = innermost_parallels(document)
        self.shapes: dict[str, Shape] = {}
        self.flows: list[Flow] = []
        self.messages: dict[str, str] = {}
        # BPMN reads a gateway that both merges and splits as ambiguous: a splitting node with
        # several incoming transitions gets a merging gateway in front of it.
        incoming = Counter(target for node in document.nodes for _, target in node.transitions())
        incoming[document.start] += 1
        self.merged = {
            node.id
            for node in document.nodes
            if isinstance(node, ConditionNode | SplitNode | ParallelNode) and incoming[node.id] > 1
        }

    # --- graph ---------------------------------------------------------------------------

    def shape(self, shape: Shape) -> Shape:
        self.shapes[shape.id] = shape
        return shape

    def flow(self, source: str, target: str, **attrs: str) -> Flow:
        flow = Flow(f"flow.{len(self.flows) + 1}", source, target, dict(attrs))
        self.flows.append(flow)
        self.shapes[source].outgoing.append(flow.id)
        self.shapes[target].incoming.append(flow.id)
        return flow

    def into(self, node_id: str) -> str:
        """The element a flow to `node_id` enters: the node's, or its merging gateway."""
        bpmn_node = self.ids[node_id]
        return f"{bpmn_node}.merge" if node_id in self.merged else bpmn_node

    def join_id(self, parallel_id: str) -> str:
        return f"{self.ids[parallel_id]}.join"

    def continue_to(self, source: str, node: NodeBase, target: str | None) -> None:
        """A flow to `target`, or into the enclosing join when `node` ends a branch."""
        if target is not None:
            self.flow(source, self.into(target))
        elif self.owner.get(node.id) is not None:
            self.flow(source, self.join_id(self.owner[node.id]))

    def build(self) -> str:
        self.shape(Shape(START_ID, "startEvent"))
        for node in self.document.nodes:  # shapes first: flows need both ends
            self._shapes_of(node)
        self.flow(START_ID, self.into(self.document.start))
        for node in self.document.nodes:
            self._flows_of(node)
        root = Element(
            bpmn("definitions"),
            {
                "id": "definitions.journey",
                "targetNamespace": "https://journey.dev/journeys",
                "exporter": "Journey",
                "exporterVersion": "1.0",
            },
        )
        for event_type, message_id in self.messages.items():
            SubElement(root, bpmn("message"), {"id": message_id, "name": event_type})
        root.append(self._process())
        root.append(
            diagram_element(self.shapes, self.flows, process_id=PROCESS_ID, start_id=START_ID)
        )
        ET.indent(root, space="  ")
        return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"

    # --- one node ------------------------------------------------------------------------

    def _shapes_of(self, node: NodeBase) -> None:
        shape = self.shape(Shape(self.ids[node.id], _tag(node)))
        params = node_params(node, _structural(node))
        if shape.id != node.id:
            shape.attrs[xflow("nodeId")] = node.id
        if node.name is None:
            shape.attrs["name"] = default_label(node.id)  # a modeler shows something readable
        elif attribute_safe(node.name):
            shape.attrs["name"] = node.name
            params.pop("name", None)
        if node.description and text_safe(node.description):
            shape.documentation = node.description
            params.pop("description", None)
        if isinstance(node, LifecycleTransitionNode):
            lifecycle = Element(xflow("Lifecycle"), {"stage": str(node.stage)})
            if node.reason is not None and attribute_safe(node.reason):
                lifecycle.set("reason", node.reason)
                params.pop("reason", None)
            shape.extensions.append(lifecycle)
        elif isinstance(node, ActionNode) and not isinstance(node, SubJourneyNode):
            action = Element(xflow("Action"), {"type": node_type_name(type(node))})
            action.extend(parameters(params))
            shape.extensions.append(action)
            params = {}
        if isinstance(node, SubJourneyNode) and attribute_safe(node.journey_id):
            shape.attrs["calledElement"] = node.journey_id
            params.pop("journey_id", None)
        if isinstance(node, DelayNode):
            shape.tail.append(self._timer(node))
        if isinstance(node, WaitForEventNode):
            shape.attrs["messageRef"] = self._message(node.event_type)
            boundary = self.shape(Shape(f"{shape.id}.timeout", "boundaryEvent", host=shape.id))
            boundary.attrs["attachedToRef"] = shape.id
            boundary.tail.append(timer_definition(boundary.id, format_duration(node.timeout)))
        if isinstance(node, ActionNode) and node.on_error is not None:
            boundary = self.shape(Shape(f"{shape.id}.error", "boundaryEvent", host=shape.id))
            boundary.attrs["attachedToRef"] = shape.id
            boundary.tail.append(Element(bpmn("errorEventDefinition"), {"id": f"{boundary.id}.d"}))
        if isinstance(node, ParallelNode):
            self.shape(Shape(self.join_id(node.id), "parallelGateway"))
        if node.id in self.merged:
            self.shape(Shape(self.into(node.id), "exclusiveGateway"))
        shape.extensions.extend(parameters(params))

    def _flows_of(self, node: NodeBase) -> None:
        source = self.ids[node.id]
        if node.id in self.merged:
            self.flow(self.into(node.id), source)
        if isinstance(node, ConditionNode):
            for branch in node.branches:
                flow = self.flow(source, self.into(branch.next))
                flow.condition = condition_expression(branch.when)
                if flow.condition.text and len(flow.condition.text) <= 60:
                    flow.attrs["name"] = flow.condition.text  # a label only; never read back
            default = self.flow(source, self.into(node.default), name="otherwise")
            self.shapes[source].attrs["default"] = default.id
        elif isinstance(node, SplitNode):
            for variant in node.variants:
                flow = self.flow(source, self.into(variant.next))
                flow.attrs[xflow("weight")] = str(variant.weight)
                if attribute_safe(variant.name):
                    flow.attrs["name"] = variant.name
                    flow.attrs[xflow("variant")] = variant.name
                else:
                    flow.extensions.extend(parameters({"variant": variant.name}))
        elif isinstance(node, WaitForEventNode):
            self.flow(source, self.into(node.on_event))
            self.flow(f"{source}.timeout", self.into(node.on_timeout), name="timeout")
        elif isinstance(node, ParallelNode):
            for first in node.branches:
                self.flow(source, self.into(first))
            self.continue_to(self.join_id(node.id), node, node.next)
        elif isinstance(node, DelayNode):
            self.flow(source, self.into(node.next))
        elif isinstance(node, ActionNode):
            self.continue_to(source, node, node.next)
            if node.on_error is not None:
                self.flow(f"{source}.error", self.into(node.on_error), name="error")

    def _message(self, event_type: str) -> str:
        return self.messages.setdefault(event_type, f"message.{len(self.messages) + 1}")

    def _timer(self, node: DelayNode) -> Element:
        definition_id = f"{self.ids[node.id]}.timer"
        if node.duration is not None:
            return timer_definition(definition_id, format_duration(node.duration))
        definition = Element(bpmn("timerEventDefinition"), {"id": definition_id})
        if node.until_field is not None:
            date = SubElement(definition, bpmn("timeDate"), {XSI_TYPE: FORMAL_EXPRESSION})
            date.text = f"${{{node.until_field}}}"
        return definition

    # --- XML -----------------------------------------------------------------------------

    def _process(self) -> Element:
        document = self.document
        process = Element(bpmn("process"), {"id": PROCESS_ID, "isExecutable": "true"})
        params = non_default_fields(document, {"start", "nodes", "lifecycle_stages"})
        if attribute_safe(document.name):
            process.set("name", document.name)
            params.pop("name", None)
        if document.description and text_safe(document.description):
            SubElement(process, bpmn("documentation")).text = document.description
            params.pop("description", None)
        extensions = [
            Element(xflow("Lifecycle"), {"stage": str(stage)})
            for stage in document.lifecycle_stages
        ]
        extensions.extend(parameters(params))
        if extensions:
            SubElement(process, bpmn("extensionElements")).extend(extensions)
        for shape in self.shapes.values():
            process.append(shape_element(shape))
        for flow in self.flows:
            process.append(flow_element(flow))
        return process


def _tag(node: NodeBase) -> str:
    kind = node_type_name(type(node))
    return {
        "condition": "exclusiveGateway",
        "split": "exclusiveGateway",
        "parallel": "parallelGateway",
        "delay": "intermediateCatchEvent",
        "wait_for_event": "receiveTask",
        "sub_journey": "callActivity",
        "end": "endEvent",
    }.get(kind, "sendTask" if kind in _SEND else "serviceTask")


def _structural(node: NodeBase) -> set[str]:
    """Fields the diagram itself carries (transitions, and what the element type implies)."""
    fields = {"next", "on_error", "branches", "default", "variants", "on_event", "on_timeout"}
    if isinstance(node, LifecycleTransitionNode):
        fields.add("stage")
    if isinstance(node, DelayNode):
        fields |= {"duration", "until_field"}
    if isinstance(node, WaitForEventNode):
        fields |= {"event_type", "timeout"}
    return fields

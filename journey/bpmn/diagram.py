"""The exported diagram's elements: shapes and flows as they are built, then written as BPMN
elements and as BPMNDI shapes and edges placed by journey.bpmn.layout."""

from __future__ import annotations

from dataclasses import dataclass, field
from xml.etree.ElementTree import Element, SubElement

from journey.bpmn.layout import Box, place, waypoints
from journey.bpmn.namespaces import BPMNDI, DC, DI, bpmn

KINDS = {"startEvent": "event", "endEvent": "event", "intermediateCatchEvent": "event"}
KINDS |= {"boundaryEvent": "event", "exclusiveGateway": "gateway", "parallelGateway": "gateway"}


@dataclass
class Shape:
    id: str
    tag: str
    attrs: dict[str, str] = field(default_factory=dict)
    documentation: str | None = None
    extensions: list[Element] = field(default_factory=list)
    tail: list[Element] = field(default_factory=list)
    incoming: list[str] = field(default_factory=list)
    outgoing: list[str] = field(default_factory=list)
    host: str | None = None


@dataclass
class Flow:
    id: str
    source: str
    target: str
    attrs: dict[str, str] = field(default_factory=dict)
    condition: Element | None = None
    extensions: list[Element] = field(default_factory=list)


def shape_element(shape: Shape) -> Element:
    element = Element(bpmn(shape.tag), {"id": shape.id, **shape.attrs})
    if shape.documentation is not None:
        SubElement(element, bpmn("documentation")).text = shape.documentation
    if shape.extensions:
        SubElement(element, bpmn("extensionElements")).extend(shape.extensions)
    for flow_id in shape.incoming:
        SubElement(element, bpmn("incoming")).text = flow_id
    for flow_id in shape.outgoing:
        SubElement(element, bpmn("outgoing")).text = flow_id
    element.extend(shape.tail)
    return element


def flow_element(flow: Flow) -> Element:
    attrs = {"id": flow.id, **flow.attrs, "sourceRef": flow.source, "targetRef": flow.target}
    element = Element(bpmn("sequenceFlow"), attrs)
    if flow.extensions:
        SubElement(element, bpmn("extensionElements")).extend(flow.extensions)
    if flow.condition is not None:
        element.append(flow.condition)
    return element


def diagram_element(
    shapes: dict[str, Shape], flows: list[Flow], *, process_id: str, start_id: str
) -> Element:
    """The BPMNDiagram: bounds for every shape, waypoints for every flow."""
    boxes = [Box(s.id, KINDS.get(s.tag, "task"), s.host) for s in shapes.values()]
    bounds = place(boxes, [(f.source, f.target) for f in flows], start_id)
    floor = max(b.bottom for b in bounds.values()) + 40
    diagram = Element(f"{{{BPMNDI}}}BPMNDiagram", {"id": "diagram.journey"})
    plane = SubElement(
        diagram, f"{{{BPMNDI}}}BPMNPlane", {"id": "plane.journey", "bpmnElement": process_id}
    )
    for shape in shapes.values():
        attrs = {"id": f"{shape.id}.di", "bpmnElement": shape.id}
        if shape.tag == "exclusiveGateway":
            attrs["isMarkerVisible"] = "true"
        di_shape = SubElement(plane, f"{{{BPMNDI}}}BPMNShape", attrs)
        box = bounds[shape.id]
        SubElement(di_shape, f"{{{DC}}}Bounds", _numbers(box.x, box.y, box.width, box.height))
    for index, flow in enumerate(flows):
        edge = SubElement(
            plane, f"{{{BPMNDI}}}BPMNEdge", {"id": f"{flow.id}.di", "bpmnElement": flow.id}
        )
        source, target = shapes[flow.source], shapes[flow.target]
        points = waypoints(
            bounds[flow.source],
            bounds[flow.target],
            source_kind=KINDS.get(source.tag, "task"),
            target_kind=KINDS.get(target.tag, "task"),
            from_boundary=source.host is not None,
            floor=floor + (index % 4) * 10,
        )
        for x, y in points:
            SubElement(edge, f"{{{DI}}}waypoint", {"x": str(x), "y": str(y)})
    return diagram


def _numbers(x: int, y: int, width: int, height: int) -> dict[str, str]:
    return {"x": str(x), "y": str(y), "width": str(width), "height": str(height)}

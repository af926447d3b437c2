"""import(export(journey)) is an equivalent journey, and the export is a complete, laid-out diagram.

"Equivalent" is journey.bpmn.canonical.equivalent: same journey-wide fields and the same nodes by
id with the same types, parameters and transitions; node order and layout are not compared. The
first tests pin that definition down so the property below cannot pass vacuously.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element

import pytest
from defusedxml.ElementTree import fromstring
from hypothesis import HealthCheck, given, settings

from dsl.document import JourneyDocument
from dsl.validation import validate_journey
from journey.bpmn import export_bpmn, import_bpmn
from journey.bpmn.canonical import equivalent
from journey.bpmn.namespaces import BPMN, BPMNDI, DC, DI
from tests.journey.bpmn.strategies import journeys

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = sorted((ROOT / "examples").glob("*.json"))
FLOW_NODES = {
    "startEvent",
    "endEvent",
    "serviceTask",
    "sendTask",
    "receiveTask",
    "callActivity",
    "exclusiveGateway",
    "parallelGateway",
    "intermediateCatchEvent",
    "boundaryEvent",
}

ACTIVE = {"field": "user.attributes.active", "op": "eq", "value": True}
LOOP = {
    "name": "Nag until active",
    "start": "check",
    "nodes": [
        {
            "id": "check",
            "type": "condition",
            "branches": [{"when": ACTIVE, "next": "ok"}],
            "default": "nag",
        },
        {
            "id": "nag",
            "type": "email",
            "to": "{{ user.email }}",
            "subject": "?",
            "text": "Back?",
            "next": "pause",
        },
        {"id": "pause", "type": "delay", "duration": "P1D", "next": "check", "max_iterations": 5},
        {"id": "ok", "type": "end"},
    ],
}


def _document(data: dict[str, Any]) -> JourneyDocument:
    result = validate_journey(data)
    assert result.document is not None, result.problems
    return result.document


def _round_trip(document: JourneyDocument) -> tuple[str, JourneyDocument]:
    xml = export_bpmn(document)
    back = import_bpmn(xml)
    assert back.problems == [], "\n".join(map(str, back.problems))
    assert back.document is not None
    return xml, back.document


def _assert_round_trip(document: JourneyDocument) -> str:
    xml, back = _round_trip(document)
    assert equivalent(document, back)
    assert export_bpmn(back) == xml  # and exporting the imported journey changes nothing
    _assert_laid_out(xml)
    return xml


def _local(element: Element) -> str:
    return element.tag.rpartition("}")[2]


def _assert_laid_out(xml: str) -> None:
    """Every flow node has a shape, every flow an edge; shapes do not overlap; edges touch."""
    root = fromstring(xml)
    process = root.find(f"{{{BPMN}}}process")
    assert process is not None
    plane = root.find(f"{{{BPMNDI}}}BPMNDiagram/{{{BPMNDI}}}BPMNPlane")
    assert plane is not None and plane.get("bpmnElement") == process.get("id")
    bounds = {}
    for shape in plane.findall(f"{{{BPMNDI}}}BPMNShape"):
        box = shape.find(f"{{{DC}}}Bounds")
        assert box is not None
        x, y, w, h = (int(box.get(k, "")) for k in ("x", "y", "width", "height"))
        bounds[shape.get("bpmnElement")] = (x, y, w, h)
    nodes = {el.get("id"): _local(el) for el in process if _local(el) in FLOW_NODES}
    flows = {el.get("id"): el for el in process if _local(el) == "sequenceFlow"}
    assert set(bounds) == set(nodes)
    laid = sorted((bounds[i], i) for i, kind in nodes.items() if kind != "boundaryEvent")
    for index, ((x, y, w, h), _) in enumerate(laid):
        for (x2, y2, w2, h2), _ in laid[index + 1 :]:
            assert x + w <= x2 or x2 + w2 <= x or y + h <= y2 or y2 + h2 <= y, "shapes overlap"
    edges = {edge.get("bpmnElement"): edge for edge in plane.findall(f"{{{BPMNDI}}}BPMNEdge")}
    assert set(edges) == set(flows)
    for flow_id, edge in edges.items():
        points = [
            (int(p.get("x", "")), int(p.get("y", ""))) for p in edge.iter(f"{{{DI}}}waypoint")
        ]
        assert len(points) >= 2
        for (x, y), end in ((points[0], "sourceRef"), (points[-1], "targetRef")):
            bx, by, bw, bh = bounds[flows[flow_id].get(end)]
            assert bx <= x <= bx + bw and by <= y <= by + bh, f"{flow_id} misses its {end}"


def test_equivalence_compares_what_matters_and_only_that() -> None:
    base = json.loads((ROOT / "examples" / "winback_ab.json").read_text())
    document = _document(base)
    shuffled = copy.deepcopy(base)
    shuffled["nodes"].reverse()
    assert equivalent(document, _document(shuffled))
    labelled = copy.deepcopy(base)
    labelled["nodes"][0]["name"] = "offer split"  # the label an unnamed node gets
    assert equivalent(document, _document(labelled))
    for change in (
        lambda d: d["nodes"][1].update(subject="Other"),  # a parameter
        lambda d: d["nodes"][1].update(next="lost"),  # a transition
        lambda d: d.update(lifecycle_stages=["Revenue"]),  # the stages
        lambda d: d["nodes"][0]["variants"][0].update(weight=51),  # a variant
        lambda d: d["nodes"][2].update(name="Tour"),  # a real name
        lambda d: d.update(timezone="Europe/Paris"),  # a journey-wide field
    ):
        changed = copy.deepcopy(base)
        change(changed)
        assert not equivalent(document, _document(changed))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.stem)
def test_every_example_makes_the_round_trip(path: Path) -> None:
    _assert_round_trip(_document(json.loads(path.read_text())))


def test_a_loop_makes_the_round_trip_and_runs_back_below_the_diagram() -> None:
    xml = _assert_round_trip(_document(LOOP))
    assert "<bpmn:intermediateCatchEvent" in xml and 'name="max_iterations"' in xml


def test_the_modeler_example_makes_the_round_trip() -> None:
    imported = import_bpmn((ROOT / "examples" / "bpmn" / "welcome.bpmn").read_bytes())
    assert imported.document is not None
    _assert_round_trip(imported.document)


@settings(max_examples=75, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(journeys())
def test_generated_journeys_make_the_round_trip(data: dict[str, Any]) -> None:
    _assert_round_trip(_document(data))

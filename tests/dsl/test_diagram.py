"""Mermaid diagrams of journeys: read back with a strict parser (tests/dsl/mermaid.py), never
compared as golden strings. Every node and every transition must be there, with the shape
and edge label its type calls for; any journey text must survive escaping; counts must show.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dsl.diagram import START_ID, DiagramCounts, NodeCounts, render_mermaid
from dsl.document import JourneyDocument
from dsl.durations import format_duration
from dsl.nodes import ParallelNode, WaitForEventNode
from tests.dsl.mermaid import Diagram, parse

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.json"))
SHAPE_BY_TYPE = {
    "condition": "diamond",
    "split": "diamond",
    "delay": "hexagon",
    "wait_for_event": "hexagon",
    "email": "parallelogram",
    "webhook": "parallelogram",
    "emit_event": "parallelogram",
    "update_attributes": "rectangle",
    "lifecycle_transition": "rectangle",
    "parallel": "trapezoid",
    "sub_journey": "subroutine",
    "end": "stadium",
}


def document(data: dict[str, Any]) -> JourneyDocument:
    return JourneyDocument.model_validate(data)


def expected_edges(doc: JourneyDocument) -> set[tuple[str, str]]:
    """(source, target) of every transition; a parallel's `next` is reached through joins."""
    edges = set()
    for node in doc.nodes:
        for suffix, target in node.transitions():
            if not (isinstance(node, ParallelNode) and suffix == "next"):
                edges.add((node.id, target))
    return edges


def journey_edges(diagram: Diagram) -> dict[tuple[str, str], tuple[str, str | None]]:
    names = {mermaid: lines[0] for mermaid, (_, lines) in diagram.nodes.items()}
    return {
        (names[source], names[target]): (arrow, label)
        for source, target, arrow, label in diagram.edges
        if source != START_ID
    }


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_node_and_transition_of_the_examples(path: Path) -> None:
    doc = document(json.loads(path.read_text()))
    diagram = parse(render_mermaid(doc))
    by_id = diagram.by_journey_id()
    for node in doc.nodes:
        assert node.id in by_id, f"{node.id} missing"
        shape, _ = diagram.nodes[by_id[node.id]]
        assert shape == SHAPE_BY_TYPE[node.type]
        assert diagram.classes[by_id[node.id]] != "unvisited"
    assert len(diagram.nodes) == len(doc.nodes) + 1  # plus the start marker
    edges = journey_edges(diagram)
    assert expected_edges(doc) <= set(edges)
    starts = [target for source, target, _, _ in diagram.edges if source == START_ID]
    assert starts == [by_id[doc.start]]
    for node in doc.nodes:
        if isinstance(node, WaitForEventNode):
            assert edges[(node.id, node.on_event)][1] == node.event_type
            assert (
                edges[(node.id, node.on_timeout)][1] == f"timeout {format_duration(node.timeout)}"
            )
        if getattr(node, "on_error", None):
            assert edges[(node.id, node.on_error)] == ("-.->", "on error")  # type: ignore[attr-defined]


def test_conditions_and_variants_label_their_edges() -> None:
    doc = document(json.loads((EXAMPLES[0].parent / "trial_expiry.json").read_text()))
    edges = journey_edges(parse(render_mermaid(doc)))
    assert edges[("upgraded", "to_revenue")][1] == "user.attributes.plan in ['pro', 'business']"
    assert edges[("upgraded", "downgrade")][1] == "otherwise"
    winback = document(json.loads((EXAMPLES[0].parent / "winback_ab.json").read_text()))
    edges = journey_edges(parse(render_mermaid(winback)))
    assert edges[("offer_split", "discount_email")][1] == "discount (50%)"


def test_parallel_branches_join_at_the_parallels_next() -> None:
    doc = document(
        {
            "name": "Nested",
            "start": "outer",
            "nodes": [
                {
                    "id": "outer",
                    "type": "parallel",
                    "branches": ["a", "inner"],
                    "join": "any",
                    "next": "done",
                },
                {"id": "a", "type": "emit_event", "event_type": "a"},
                {"id": "inner", "type": "parallel", "branches": ["b", "c"]},
                {"id": "b", "type": "emit_event", "event_type": "b"},
                {"id": "c", "type": "emit_event", "event_type": "c"},
                {"id": "done", "type": "end"},
            ],
        }
    )
    edges = journey_edges(parse(render_mermaid(doc)))
    for branch_end in ("a", "b", "c"):
        assert edges[(branch_end, "done")] == ("-.->", "join any")
    assert ("outer", "done") not in edges and ("inner", "done") not in edges
    assert edges[("outer", "inner")][1] == "branch 2"


NASTY = 'Say "hi" | <b>x</b> & `y` #1 [a] {b} (c) ;\nline\ttwo'


def test_any_text_is_escaped_and_survives() -> None:
    doc = document(
        {
            "name": NASTY,
            "start": "end",
            "nodes": [
                {
                    "id": "end",
                    "type": "email",
                    "name": NASTY,
                    "to": "{{ user.email }}",
                    "subject": 'Re: "[#42]" {{ user.id }}',
                    "text": "t",
                    "next": "graph",
                },
                {
                    "id": "graph",
                    "type": "condition",
                    "default": "x1",
                    "branches": [
                        {
                            "when": {"field": "user.attributes.n", "op": "eq", "value": 'a"|]>#'},
                            "next": "o1",
                        }
                    ],
                },
                {"id": "o1", "type": "end", "outcome": 'quote " and #hash'},
                {"id": "x1", "type": "end"},
            ],
        }
    )
    text = render_mermaid(doc)
    diagram = parse(text)  # fails on any raw quote, bracket, pipe, # or < in a label
    lines = {lines[0]: lines for _, lines in diagram.nodes.values()}
    # Keywords and arrow-like ids are labels only, never Mermaid ids.
    assert set(lines) >= {"end", "graph", "o1", "x1"}
    assert lines["end"][1] == " ".join(NASTY.split())  # a name is one line
    assert lines["end"][2] == 'email: Re: "[#42]" {{ user.id }}'
    assert lines["o1"][1] == 'end: quote " and #hash'
    edges = journey_edges(diagram)
    assert edges[("graph", "o1")][1] == "user.attributes.n eq 'a\"|]>#'"


def test_escape_label_breaks_lines_and_drops_control_characters() -> None:
    from dsl.diagram import escape_label
    from tests.dsl.mermaid import decode

    assert decode(escape_label('a "b"\nc\r\nd\x00e')) == ['a "b"', "c", "d e"]


def test_counts_annotate_nodes_and_grey_out_the_unvisited() -> None:
    doc = document(json.loads((EXAMPLES[0].parent / "winback_ab.json").read_text()))
    counts = DiagramCounts(
        nodes={"offer_split": NodeCounts(5, 5, 0), "discount_email": NodeCounts(3, 2, 1)},
        variants={("offer_split", "discount"): 3, ("offer_split", "feature_tour"): 2},
    )
    diagram = parse(render_mermaid(doc, counts))
    by_id = diagram.by_journey_id()
    _, label = diagram.nodes[by_id["discount_email"]]
    assert label[-1] == "entered 3 · completed 2 · failed 1"
    _, label = diagram.nodes[by_id["lost"]]
    assert label[-1] == "entered 0 · completed 0 · failed 0"
    assert diagram.classes[by_id["lost"]] == "unvisited"
    assert diagram.classes[by_id["discount_email"]] == "send"
    edges = journey_edges(diagram)
    assert edges[("offer_split", "discount_email")][1] == "discount (50%) · 3 runs"
    assert edges[("offer_split", "tour_email")][1] == "feature_tour (50%) · 2 runs"

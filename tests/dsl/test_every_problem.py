"""A schema error in one node does not hide the graph, template and duration problems of the
rest, and does not invent problems where the broken node leaves the graph in doubt."""

from __future__ import annotations

from typing import Any

from dsl.validation import validate_journey


def codes(document: dict[str, Any]) -> list[tuple[str, str]]:
    result = validate_journey(document)
    assert result.document is None
    return [(problem.path, problem.code) for problem in result.problems]


def test_one_bad_node_does_not_hide_the_others() -> None:
    document = {
        "name": "many problems",
        "start": "a",
        "nodes": [
            {
                "id": "a",
                "type": "email",
                "to": "{{ usr.email }}",
                "subject": "{% if %}",
                "next": "b",
            },
            {"id": "b", "type": "delay", "duration": "-PT1H", "next": "a"},
        ],
    }
    assert codes(document) == [
        ("/nodes/0", "missing_body"),
        ("/nodes/0", "unguarded_loop"),
        ("/nodes/0/subject", "template_syntax"),
        ("/nodes/0/to", "unknown_field_root"),
        ("/nodes/1/duration", "duration_out_of_range"),
    ]


def test_a_broken_node_keeps_its_transitions() -> None:
    document = {
        "name": "dangling from a broken node",
        "start": "a",
        "nodes": [
            {
                "id": "a",
                "type": "webhook",
                "method": "TELEPORT",
                "url": "https://x",
                "next": "missing",
            },
            {"id": "b", "type": "end"},
        ],
    }
    found = codes(document)
    assert ("/nodes/0/next", "dangling_transition") in found
    assert ("/nodes/1", "unreachable_node") in found


def test_a_broken_guard_or_end_does_not_invent_loop_or_ending_problems() -> None:
    document = {
        "name": "benefit of the doubt",
        "start": "wait",
        "nodes": [
            # Two delay modes at once: a schema error, but still a guarded delay.
            {
                "id": "wait",
                "type": "delay",
                "duration": "PT1H",
                "until_field": "user.x",
                "max_iterations": 3,
                "next": "check",
            },
            {
                "id": "check",
                "type": "condition",
                "default": "wait",
                "branches": [{"when": {"field": "vars.done", "op": "exists"}, "next": "fin"}],
            },
            {"id": "fin", "type": "end", "outcome": 42},
        ],
    }
    found = codes(document)
    assert [code for _, code in found] == ["delay_mode", "string_type"]

"""One failing document per graph rule, asserting the exact code and JSON pointer."""

from __future__ import annotations

from typing import Any

from dsl.validation import validate_journey
from tests.dsl.builders import delay, email, end, journey, valid


def problems(data: dict[str, Any]) -> set[tuple[str, str]]:
    result = validate_journey(data)
    assert result.document is None
    return {(p.path, p.code) for p in result.problems}


def test_valid_base_has_no_problems() -> None:
    result = validate_journey(valid())
    assert result.problems == []
    assert result.document is not None


def test_duplicate_id() -> None:
    data = journey(email("mail", "done"), end(), end())
    assert ("/nodes/2/id", "duplicate_id") in problems(data)


def test_dangling_transition_on_next() -> None:
    data = journey(email("mail", "nowhere"), end())
    assert ("/nodes/0/next", "dangling_transition") in problems(data)


def test_dangling_transition_in_every_kind_of_edge() -> None:
    data = journey(
        {
            "id": "choose",
            "type": "condition",
            "branches": [{"when": {"field": "user.x", "op": "exists"}, "next": "ghost1"}],
            "default": "wait",
        },
        {
            "id": "wait",
            "type": "wait_for_event",
            "event_type": "x",
            "timeout": "P1D",
            "on_event": "ghost2",
            "on_timeout": "ab",
        },
        {
            "id": "ab",
            "type": "split",
            "variants": [
                {"name": "a", "weight": 1, "next": "ghost3"},
                {"name": "b", "weight": 1, "next": "done"},
            ],
        },
        email("mail", "done", on_error="ghost4"),
        end(),
    )
    found = problems(data)
    for path in (
        "/nodes/0/branches/0/next",
        "/nodes/1/on_event",
        "/nodes/2/variants/0/next",
        "/nodes/3/on_error",
    ):
        assert (path, "dangling_transition") in found


def test_missing_start() -> None:
    assert ("/start", "missing_start") in problems(journey(end(), start="nope"))


def test_unreachable_node() -> None:
    data = journey(email("mail", "done"), end(), email("orphan", "done"))
    assert problems(data) == {("/nodes/2", "unreachable_node")}


def test_no_path_to_end() -> None:
    data = journey(
        delay("a", "b", max_iterations=3), delay("b", "a", max_iterations=3), end("done")
    )
    found = problems(data)
    assert ("/nodes/0", "no_path_to_end") in found
    assert ("/nodes/1", "no_path_to_end") in found


def test_no_path_to_end_through_parallel_join_all() -> None:
    """A join="all" parallel whose one branch never finishes cannot reach its `next`."""
    data = journey(
        {"id": "par", "type": "parallel", "branches": ["a", "spin"], "next": "done"},
        email("a"),
        delay("spin", "spin", max_iterations=2),
        end(),
    )
    found = problems(data)
    assert ("/nodes/0", "no_path_to_end") in found
    assert ("/nodes/2", "no_path_to_end") in found


def test_unguarded_loop() -> None:
    data = journey(
        email("mail", "check"),
        {
            "id": "check",
            "type": "condition",
            "branches": [{"when": {"field": "user.x", "op": "exists"}, "next": "done"}],
            "default": "mail",
        },
        end(),
    )
    assert problems(data) == {("/nodes/0", "unguarded_loop")}


def test_loop_through_guarded_delay_is_fine() -> None:
    data = journey(
        delay("pause", "mail", max_iterations=5),
        email("mail", "check"),
        {
            "id": "check",
            "type": "condition",
            "branches": [{"when": {"field": "user.x", "op": "exists"}, "next": "done"}],
            "default": "pause",
        },
        end(),
    )
    assert validate_journey(data).problems == []


def test_loop_through_delay_without_max_iterations_is_unguarded() -> None:
    data = journey(delay("pause", "mail"), email("mail", "pause", on_error="done"), end())
    assert ("/nodes/0", "unguarded_loop") in problems(data)


def test_branch_escape_to_outside_node() -> None:
    data = journey(
        {"id": "par", "type": "parallel", "branches": ["a", "b"], "next": "after"},
        email("a", "after"),
        email("b"),
        email("after", "done"),
        end(),
    )
    assert ("/nodes/1/next", "branch_escape") in problems(data)


def test_branch_escape_end_inside_branch() -> None:
    data = journey(
        {"id": "par", "type": "parallel", "branches": ["a", "b"], "next": "done"},
        email("a", "inner_end"),
        email("b"),
        end(),
        end("inner_end"),
    )
    assert ("/nodes/1/next", "branch_escape") in problems(data)


def test_branch_escape_into_other_branch() -> None:
    data = journey(
        {"id": "par", "type": "parallel", "branches": ["a", "b"], "next": "done"},
        email("a", "b"),
        email("b"),
        end(),
    )
    assert ("/nodes/1/next", "branch_escape") in problems(data)


def test_nested_parallel_is_allowed() -> None:
    data = journey(
        {"id": "outer", "type": "parallel", "branches": ["inner", "c"], "next": "done"},
        {"id": "inner", "type": "parallel", "branches": ["a", "b"], "join": "any", "next": "d"},
        email("a"),
        email("b"),
        email("d"),
        email("c"),
        end(),
    )
    assert validate_journey(data).problems == []


def test_missing_next_outside_parallel_branch() -> None:
    data = journey(email("mail"), end(), start="mail")
    found = problems(data)
    assert ("/nodes/0/next", "missing_next") in found


def test_every_problem_is_reported_at_once() -> None:
    data = journey(email("mail", "ghost"), end(), end(), email("orphan"))
    codes = {code for _, code in problems(data)}
    assert {"dangling_transition", "duplicate_id", "unreachable_node", "missing_next"} <= codes

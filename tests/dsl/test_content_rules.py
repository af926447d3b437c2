"""Schema-error pointers and the content rules (templates, roots, durations, time zones)."""

from __future__ import annotations

from typing import Any

import pytest

from dsl.validation import loc_to_pointer, validate_journey
from tests.dsl.builders import delay, email, end, journey, valid


def found(data: dict[str, Any]) -> set[tuple[str, str]]:
    result = validate_journey(data)
    assert result.document is None
    return {(p.path, p.code) for p in result.problems}


def condition_node(when: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "check",
        "type": "condition",
        "branches": [{"when": when, "next": "done"}],
        "default": "done",
    }


def test_bad_condition_op_points_into_the_branch() -> None:
    data = journey(condition_node({"field": "user.plan", "op": "like", "value": "x"}), end())
    assert found(data) == {("/nodes/0/branches/0/when/op", "enum")}


def test_nested_condition_error_drops_union_tags() -> None:
    when = {
        "all": [
            {"not": {"field": "user.x", "op": "eq"}},
            {"any": [{"field": "u.x", "op": "exists"}]},
        ]
    }
    assert found(journey(condition_node(when), end())) == {
        ("/nodes/0/branches/0/when/all/0/not", "missing_value"),
        ("/nodes/0/branches/0/when/all/1/any/0/field", "unknown_field_root"),
    }


def test_ref_with_unknown_root() -> None:
    when = {"field": "event.id", "op": "eq", "value": {"ref": "journey.name"}}
    data = journey(condition_node(when), end())
    assert found(data) == {("/nodes/0/branches/0/when/value/ref", "unknown_field_root")}


@pytest.mark.parametrize(
    ("when", "path", "code"),
    [
        ({"field": "user.x", "op": "in", "value": "pro"}, "", "value_not_list"),
        ({"field": "user.x", "op": "exists", "value": 1}, "", "unexpected_value"),
        ({"field": "user..x", "op": "exists"}, "/field", "invalid_field_path"),
    ],
)
def test_leaf_model_rules(when: dict[str, Any], path: str, code: str) -> None:
    """Op/value mismatches are leaf-level (pointer at `when`); a bad path points at `field`."""
    data = journey(condition_node(when), end())
    assert found(data) == {(f"/nodes/0/branches/0/when{path}", code)}


def test_unknown_node_type_points_at_type() -> None:
    data = journey({"id": "x", "type": "sms", "next": "done"}, end())
    assert found(data) == {("/nodes/0/type", "union_tag_invalid")}


def test_typo_in_field_is_an_error() -> None:
    data = journey(email("mail", "done", subjcet="oops"), end())
    assert found(data) == {("/nodes/0/subjcet", "extra_forbidden")}


def test_missing_field_and_email_alias() -> None:
    node = email("mail", "done", **{"from": 5})
    del node["subject"]
    assert found(journey(node, end())) == {
        ("/nodes/0/subject", "missing"),
        ("/nodes/0/from", "string_type"),
    }


def test_bad_update_operation() -> None:
    node = {
        "id": "up",
        "type": "update_attributes",
        "next": "done",
        "operations": [{"op": "set", "path": "9bad", "value": 1}, {"op": "nope", "path": "a"}],
    }
    assert found(journey(node, end())) == {
        ("/nodes/0/operations/0/path", "string_pattern_mismatch"),
        ("/nodes/0/operations/1/op", "union_tag_invalid"),
    }


def test_unknown_lifecycle_stage() -> None:
    data = journey(
        {"id": "move", "type": "lifecycle_transition", "stage": "Churned", "next": "done"},
        end(),
        lifecycle_stages=["Retention", "Nope"],
    )
    assert found(data) == {
        ("/lifecycle_stages/1", "unknown_lifecycle_stage"),
        ("/nodes/0/stage", "unknown_lifecycle_stage"),
    }


def test_template_syntax() -> None:
    data = journey(email("mail", "done", subject="Hi {{ user.name "), end())
    result = validate_journey(data)
    assert [(p.path, p.code) for p in result.problems] == [("/nodes/0/subject", "template_syntax")]
    assert "line 1" in result.problems[0].message


def test_template_syntax_in_nested_json_body() -> None:
    node = {
        "id": "hook",
        "type": "webhook",
        "url": "https://x.test",
        "next": "done",
        "body": {"items": [{"name": "{% if %}"}]},
    }
    assert found(journey(node, end())) == {("/nodes/0/body/items/0/name", "template_syntax")}


def test_template_unknown_root() -> None:
    data = journey(email("mail", "done", text="Hi {{ customer.name }}"), end())
    assert found(data) == {("/nodes/0/text", "unknown_field_root")}


@pytest.mark.parametrize("value", ["PT0S", "-PT1H", "P400D"])
def test_duration_out_of_range(value: str) -> None:
    data = journey(delay("wait", "done"), end())
    data["nodes"][0]["duration"] = value
    assert found(data) == {("/nodes/0/duration", "duration_out_of_range")}


def test_retry_interval_out_of_range() -> None:
    data = journey(email("mail", "done", retry={"initial_interval": "P500D"}), end())
    assert found(data) == {("/nodes/0/retry/initial_interval", "duration_out_of_range")}


def test_numeric_seconds_duration_is_accepted() -> None:
    data = valid()
    data["nodes"][0]["duration"] = 90
    result = validate_journey(data)
    assert result.problems == []
    assert result.document is not None
    assert result.document.model_dump(mode="json")["nodes"][0]["duration"] == "PT1M30S"


def test_invalid_timezone() -> None:
    node = {
        "id": "at",
        "type": "delay",
        "next": "done",
        "until_time": {"hour": 9, "timezone": "Europe/Atlantis"},
    }
    data = journey(node, end(), timezone="Not/AZone")
    assert found(data) == {
        ("/timezone", "invalid_timezone"),
        ("/nodes/0/until_time/timezone", "invalid_timezone"),
    }


def test_loc_to_pointer_escapes_and_keeps_missing_keys() -> None:
    data = {"headers": {"a/b": 1}, "nodes": [{"type": "email"}]}
    assert loc_to_pointer(("headers", "a/b"), data) == "/headers/a~1b"
    assert loc_to_pointer(("nodes", 0, "email", "to"), data, "missing") == "/nodes/0/to"

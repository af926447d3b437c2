"""The simple condition syntax on BPMN flows, translated to the shared condition language."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from dsl.conditions import Condition
from journey.bpmn.expressions import ConditionSyntaxError, parse_condition, render_condition
from tests.journey.bpmn.strategies import CONDITION

TRANSLATIONS: list[tuple[str, Any]] = [
    ('user.attributes.p == "pro"', {"field": "user.attributes.p", "op": "eq", "value": "pro"}),
    ("${event.properties.n >= 100}", {"field": "event.properties.n", "op": "gte", "value": 100}),
    ("#{vars.n < -1.5}", {"field": "vars.n", "op": "lt", "value": -1.5}),
    ("user.a != null", {"field": "user.a", "op": "ne", "value": None}),
    ("user.a == true", {"field": "user.a", "op": "eq", "value": True}),
    ("user.a <= 3", {"field": "user.a", "op": "lte", "value": 3}),
    ("user.a > 3", {"field": "user.a", "op": "gt", "value": 3}),
    ('user.plan in ["a", "b"]', {"field": "user.plan", "op": "in", "value": ["a", "b"]}),
    ("user.plan not in []", {"field": "user.plan", "op": "not_in", "value": []}),
    ('contains(user.tags, "beta")', {"field": "user.tags", "op": "contains", "value": "beta"}),
    ('starts_with(user.email, "a@")', {"field": "user.email", "op": "starts_with", "value": "a@"}),
    ("exists(user.email)", {"field": "user.email", "op": "exists"}),
    ("not_exists(user.email)", {"field": "user.email", "op": "not_exists"}),
    (
        'event.properties["cart-id"] == vars.entry.properties.cart_id',
        {
            "field": "event.properties.cart-id",
            "op": "eq",
            "value": {"ref": "vars.entry.properties.cart_id"},
        },
    ),
    ("event.items[0] == 1", {"field": "event.items.0", "op": "eq", "value": 1}),
    ("3 < user.a", {"field": "user.a", "op": "gt", "value": 3}),
    ('"beta" in user.tags', {"field": "user.tags", "op": "contains", "value": "beta"}),
    ('"beta" not in user.tags', {"not": {"field": "user.tags", "op": "contains", "value": "beta"}}),
    (
        "1 < user.a < 5",
        {
            "all": [
                {"field": "user.a", "op": "gt", "value": 1},
                {"field": "user.a", "op": "lt", "value": 5},
            ]
        },
    ),
    (
        "exists(user.a) and (user.b == 1 or not user.c == 2)",
        {
            "all": [
                {"field": "user.a", "op": "exists"},
                {
                    "any": [
                        {"field": "user.b", "op": "eq", "value": 1},
                        {"not": {"field": "user.c", "op": "eq", "value": 2}},
                    ]
                },
            ]
        },
    ),
    ('user.m == {"a": [1, false]}', {"field": "user.m", "op": "eq", "value": {"a": [1, False]}}),
    ('{"field": "user.a", "op": "exists"}', {"field": "user.a", "op": "exists"}),
]


@pytest.mark.parametrize(("text", "expected"), TRANSLATIONS)
def test_translation(text: str, expected: Any) -> None:
    assert parse_condition(text) == expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty"),
        ("user.a +", "syntax error"),
        ("user.a + 1 == 2", "needs a field"),
        ("user.a == 1 + 1", "expected a literal value; got arithmetic"),
        ("user.a is None", "'is'"),
        ("len(user.a) > 1", "needs a field"),
        ("length(user.a)", "unknown function"),
        ("exists(user.a, 1)", "takes 1"),
        ("contains(user.a, value=1)", "takes 2"),
        ("1 == 2", "needs a field"),
        ("user.a", "expected a comparison"),
        ("user.a[user.b] == 1", "segment"),
        ('user.a == {1: "x"}', "keys must be strings"),
        ("user.a == -true", "numbers only"),
        ("{not json", "not valid JSON"),
        ("(" * 250 + "user.a == 1" + ")" * 250, "nested"),
    ],
)
def test_syntax_errors_say_why(text: str, fragment: str) -> None:
    with pytest.raises(ConditionSyntaxError) as caught:
        parse_condition(text)
    assert fragment in str(caught.value)


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(CONDITION)
def test_rendering_reads_back_exactly_or_declines(condition: Any) -> None:
    """Export writes the simple syntax only when it reads back as the same condition."""
    from pydantic import TypeAdapter

    dumped = TypeAdapter(Condition).validate_python(condition)
    as_json = TypeAdapter(Condition).dump_python(dumped, mode="json", by_alias=True)
    rendered = render_condition(as_json)
    if rendered is not None:
        assert parse_condition(rendered) == as_json


def test_rendering_is_used_for_ordinary_conditions() -> None:
    condition = {
        "all": [
            {"field": "user.attributes.plan", "op": "in", "value": ["pro", "team"]},
            {"not": {"field": "event.properties.class", "op": "exists"}},
        ]
    }
    assert render_condition(condition) == (
        'user.attributes.plan in ["pro", "team"] and not exists(event.properties["class"])'
    )

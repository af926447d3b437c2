"""Evaluator semantics: a table of leaf cases, explain(), and algebraic properties."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter

from dsl.conditions import (
    AllOf,
    AnyOf,
    Condition,
    Leaf,
    NotOf,
    Op,
    evaluate,
    explain,
    resolve_field,
)
from dsl.validation import validate_journey

ADAPTER: TypeAdapter[Any] = TypeAdapter(Condition)

CONTEXT: dict[str, Any] = {
    "user": {
        "id": "u1",
        "attributes": {
            "plan": "pro",
            "seats": 3,
            "score": 2.5,
            "active": True,
            "tags": ["a", "b"],
            "nothing": None,
            "signup": "2026-11-01T10:00:00Z",
        },
    },
    "event": {"type": "order.completed", "properties": {"cart_id": "c1", "total": 10}},
    "vars": {"entry": {"properties": {"cart_id": "c1", "plans": ["pro", "team"]}}},
}


def leaf(field: str, op: str, value: Any = ..., **_: Any) -> Any:
    data: dict[str, Any] = {"field": field, "op": op}
    if value is not ...:
        data["value"] = value
    return ADAPTER.validate_python(data)


TABLE: list[tuple[str, str, Any, bool]] = [
    ("user.attributes.plan", "eq", "pro", True),
    ("user.attributes.plan", "ne", "pro", False),
    ("user.attributes.seats", "eq", 3.0, True),  # int/float compare numerically
    ("user.attributes.seats", "eq", "3", False),  # no str/number coercion
    ("user.attributes.active", "eq", 1, False),  # booleans are not numbers
    ("user.attributes.active", "eq", True, True),
    ("user.attributes.seats", "gt", 2, True),
    ("user.attributes.seats", "gte", 3, True),
    ("user.attributes.score", "lt", 3, True),
    ("user.attributes.score", "lte", 2.4, False),
    ("user.attributes.plan", "gt", 1, False),  # incomparable: False, no exception
    ("user.attributes.signup", "lt", "2026-12-01T00:00:00Z", True),
    ("user.attributes.plan", "in", ["pro", "team"], True),
    ("user.attributes.plan", "not_in", ["pro", "team"], False),
    ("user.attributes.seats", "in", [True, "3"], False),
    ("user.attributes.tags", "contains", "a", True),
    ("user.attributes.tags", "contains", "z", False),
    ("user.attributes.plan", "contains", "r", True),
    ("user.attributes.seats", "contains", 3, False),
    ("user.attributes.plan", "starts_with", "pr", True),
    ("user.attributes.seats", "starts_with", "3", False),
    ("user.attributes.nothing", "eq", None, True),  # a present null is a value
    # missing field: positive ops False, negative ops True
    ("user.attributes.missing", "eq", None, False),
    ("user.attributes.missing", "ne", "x", True),
    ("user.attributes.missing", "gt", 0, False),
    ("user.attributes.missing", "in", ["x"], False),
    ("user.attributes.missing", "not_in", ["x"], True),
    ("user.attributes.missing", "contains", "x", False),
    ("user.attributes.missing", "starts_with", "x", False),
    ("user.attributes.plan.deeper", "eq", "x", False),  # walking into a string: missing
    ("user.attributes.tags.1", "eq", "b", True),  # list index
    ("event.properties.cart_id", "eq", {"ref": "vars.entry.properties.cart_id"}, True),
    ("user.attributes.plan", "in", {"ref": "vars.entry.properties.plans"}, True),
    ("event.properties.cart_id", "eq", {"ref": "vars.nope"}, False),  # missing ref
    ("event.properties.cart_id", "ne", {"ref": "vars.nope"}, True),
]


@pytest.mark.parametrize(("field", "op", "value", "expected"), TABLE)
def test_leaf_semantics(field: str, op: str, value: Any, expected: bool) -> None:
    assert evaluate(leaf(field, op, value), CONTEXT) is expected


@pytest.mark.parametrize(
    ("field", "op", "expected"),
    [
        ("user.attributes.plan", "exists", True),
        ("user.attributes.missing", "exists", False),
        ("user.attributes.nothing", "exists", False),
        ("user.attributes.plan", "not_exists", False),
        ("user.attributes.missing", "not_exists", True),
        ("user.attributes.nothing", "not_exists", True),
    ],
)
def test_exists(field: str, op: str, expected: bool) -> None:
    assert evaluate(leaf(field, op), CONTEXT) is expected


def test_leaf_splits_into_root_and_segments_for_sql() -> None:
    parsed = leaf("user.attributes.plan", "eq", "pro")
    assert isinstance(parsed, Leaf)
    assert (parsed.root, parsed.segments, parsed.op) == ("user", ("attributes", "plan"), Op.EQ)


def test_resolve_field() -> None:
    assert resolve_field("user.attributes.seats", CONTEXT) == (True, 3)
    assert resolve_field("user.attributes.nothing", CONTEXT) == (True, None)
    assert resolve_field("vars.absent", CONTEXT) == (False, None)


def test_explain_names_the_failing_leaves() -> None:
    condition = ADAPTER.validate_python(
        {
            "all": [
                {"field": "user.attributes.plan", "op": "eq", "value": "pro"},
                {
                    "any": [
                        {"field": "user.attributes.seats", "op": "gt", "value": 5},
                        {"field": "vars.x", "op": "exists"},
                    ]
                },
            ]
        }
    )
    failures = explain(condition, CONTEXT)
    assert [f.path for f in failures] == ["/all/1/any/0", "/all/1/any/1"]
    assert failures[0].field == "user.attributes.seats"
    assert "missing" in failures[1].reason
    assert explain(leaf("user.attributes.plan", "eq", "pro"), CONTEXT) == []


def test_explain_not() -> None:
    failures = explain(
        ADAPTER.validate_python({"not": {"field": "user.id", "op": "exists"}}), CONTEXT
    )
    assert [f.path for f in failures] == [""]


# --- properties -----------------------------------------------------------------------------

FIELDS = ["user.a", "user.b", "event.c", "vars.d", "vars.missing"]
VALUES = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.sampled_from(["", "x", "xy"]))
LEAVES = st.builds(
    lambda field, op, value: leaf(field, op, [value] if op in ("in", "not_in") else value),
    st.sampled_from(FIELDS),
    st.sampled_from([o.value for o in Op if o not in (Op.EXISTS, Op.NOT_EXISTS)]),
    VALUES,
) | st.builds(leaf, st.sampled_from(FIELDS), st.sampled_from(["exists", "not_exists"]))
CONDITIONS = st.recursive(
    LEAVES,
    lambda children: st.one_of(
        st.builds(lambda c: AllOf(all=c), st.lists(children, min_size=1, max_size=3)),
        st.builds(lambda c: AnyOf(any=c), st.lists(children, min_size=1, max_size=3)),
        st.builds(lambda c: NotOf(not_=c), children),
    ),
    max_leaves=8,
)
CONTEXTS = st.fixed_dictionaries(
    {
        "user": st.dictionaries(st.sampled_from(["a", "b"]), VALUES | st.lists(VALUES, max_size=3)),
        "event": st.dictionaries(st.just("c"), VALUES),
        "vars": st.dictionaries(st.just("d"), VALUES | st.lists(VALUES, max_size=3)),
    }
)


@given(CONDITIONS, CONTEXTS)
def test_not_negates(condition: Any, context: dict[str, Any]) -> None:
    assert evaluate(NotOf(not_=condition), context) is (not evaluate(condition, context))


@given(CONDITIONS, CONTEXTS)
def test_singleton_all_and_any_are_identity(condition: Any, context: dict[str, Any]) -> None:
    expected = evaluate(condition, context)
    assert evaluate(AllOf(all=[condition]), context) is expected
    assert evaluate(AnyOf(any=[condition]), context) is expected


@given(CONDITIONS, CONDITIONS, CONTEXTS)
def test_de_morgan(a: Any, b: Any, context: dict[str, Any]) -> None:
    left = evaluate(NotOf(not_=AllOf(all=[a, b])), context)
    right = evaluate(AnyOf(any=[NotOf(not_=a), NotOf(not_=b)]), context)
    assert left is right
    left = evaluate(NotOf(not_=AnyOf(any=[a, b])), context)
    right = evaluate(AllOf(all=[NotOf(not_=a), NotOf(not_=b)]), context)
    assert left is right


@given(CONDITIONS, CONTEXTS)
def test_explain_is_empty_exactly_when_true(condition: Any, context: dict[str, Any]) -> None:
    assert (explain(condition, context) == []) is evaluate(condition, context)


@given(CONDITIONS)
def test_conditions_round_trip_through_json(condition: Any) -> None:
    dumped = ADAPTER.dump_python(condition, mode="json", by_alias=True, exclude_unset=True)
    assert ADAPTER.validate_python(dumped) == condition


@pytest.mark.parametrize(
    ("field", "value"), [("user.a", ["in"]), ("user.a", [1, 2])], ids=["str", "int"]
)
def test_eq_ne_complement_on_present_fields(field: str, value: Any) -> None:
    for data in ({"user": {"a": "in"}}, {"user": {"a": 1}}, {"user": {"a": [1, 2]}}):
        assert evaluate(leaf(field, "eq", value), data) is not evaluate(
            leaf(field, "ne", value), data
        )


def test_a_unary_leaf_survives_a_dump_and_validate_round_trip() -> None:
    # Documents travel as dumps (Temporal payloads, database rows); `exists` takes no value.
    condition = ADAPTER.validate_python(
        {
            "all": [
                {"field": "user.email", "op": "exists"},
                {"field": "user.plan", "op": "eq", "value": None},
            ]
        }
    )
    dumped = ADAPTER.dump_python(condition, mode="json", by_alias=True)
    assert dumped == {
        "all": [
            {"field": "user.email", "op": "exists"},
            {"field": "user.plan", "op": "eq", "value": None},
        ]
    }
    assert ADAPTER.validate_python(dumped) == condition


def test_a_comparison_with_null_survives_the_stored_dump() -> None:
    """journey.definitions stores documents with exclude_none: an explicit `value: null` must
    stay (eq/ne need a value), a unary op's default None must go, and both validate again."""
    journey = {
        "name": "n",
        "start": "check",
        "nodes": [
            {
                "id": "check",
                "type": "condition",
                "default": "done",
                "branches": [
                    {
                        "when": {
                            "all": [
                                {"field": "user.attributes.plan", "op": "eq", "value": None},
                                {"field": "user.email", "op": "exists"},
                            ]
                        },
                        "next": "done",
                    }
                ],
            },
            {"id": "done", "type": "end"},
        ],
    }
    document = validate_journey(journey).document
    assert document is not None
    dumped = document.model_dump(mode="json", by_alias=True, exclude_none=True)
    leaves = dumped["nodes"][0]["branches"][0]["when"]["all"]
    assert leaves == [
        {"field": "user.attributes.plan", "op": "eq", "value": None},
        {"field": "user.email", "op": "exists"},
    ]
    assert validate_journey(dumped).problems == []

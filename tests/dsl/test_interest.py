"""`event_interest`: which event types a journey's runs can use, so only those are signalled."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dsl.document import JourneyDocument
from dsl.interest import EventInterest, event_interest
from dsl.validation import validate_journey
from tests.dsl.builders import delay, end, journey

ROOT = Path(__file__).resolve().parents[2]


def wait(node_id: str, event_type: str, next_: str = "done") -> dict[str, Any]:
    return {
        "id": node_id,
        "type": "wait_for_event",
        "event_type": event_type,
        "timeout": "P1D",
        "on_event": next_,
        "on_timeout": next_,
    }


def type_is(value: Any, op: str = "eq") -> dict[str, Any]:
    return {"field": "event.type", "op": op, "value": value}


def document(*nodes: dict[str, Any], **extra: Any) -> JourneyDocument:
    result = validate_journey(journey(*nodes, end(), **extra))
    assert result.document is not None, result.problems
    return result.document


def interest(exit_criteria: dict[str, Any] | None, *nodes: dict[str, Any]) -> EventInterest:
    extra = {} if exit_criteria is None else {"exit_criteria": exit_criteria}
    return event_interest(document(*(nodes or (delay("pause", "done"),)), **extra))


# ---- waits -----------------------------------------------------------------------------------


def test_no_waits_and_no_exit_criteria_want_nothing() -> None:
    found = interest(None)
    assert found == EventInterest(types=frozenset(), any_type=False)
    assert not found.wants("purchase")


def test_every_wait_for_event_type_is_wanted() -> None:
    found = interest(None, wait("first", "cart.viewed", "second"), wait("second", "purchase"))
    assert found == EventInterest(types=frozenset({"cart.viewed", "purchase"}))
    assert found.wants("cart.viewed") and found.wants("purchase")
    assert not found.wants("signup")


def test_a_wait_inside_a_parallel_branch_counts() -> None:
    fork = {"id": "fork", "type": "parallel", "branches": ["mark", "listen"], "next": "done"}
    mark = {
        "id": "mark",
        "type": "update_attributes",
        "operations": [{"op": "set", "path": "mark", "value": True}],
    }
    listen = {
        "id": "listen",
        "type": "wait_for_event",
        "event_type": "ping",
        "timeout": "P1D",
        "on_event": "pong",
        "on_timeout": "pong",
    }
    pong = {
        "id": "pong",
        "type": "update_attributes",
        "operations": [{"op": "set", "path": "pong", "value": True}],
    }
    assert interest(None, fork, mark, listen, pong).types == {"ping"}


# ---- exit criteria that restrict the type --------------------------------------------------------


def test_an_exit_leaf_type_eq_adds_that_type() -> None:
    found = interest(type_is("unsubscribed"), wait("listen", "purchase"))
    assert found == EventInterest(types=frozenset({"purchase", "unsubscribed"}))
    assert found.wants("unsubscribed") and not found.wants("signup")


def test_an_exit_leaf_type_in_adds_those_types() -> None:
    found = interest(type_is(["unsubscribed", "account.deleted"], "in"))
    assert found == EventInterest(types=frozenset({"unsubscribed", "account.deleted"}))


def test_an_exit_leaf_on_a_non_string_type_can_never_hold() -> None:
    assert interest(type_is(7)) == EventInterest()
    assert interest(type_is([], "in")) == EventInterest()
    assert interest(type_is(["stop", 3, None], "in")).types == {"stop"}


def test_an_all_with_a_type_leaf_at_the_top_level_restricts_to_it() -> None:
    free = {"field": "event.properties.plan", "op": "eq", "value": "free"}
    criteria = {"all": [type_is("plan.changed"), free]}
    found = interest(criteria)
    assert found == EventInterest(types=frozenset({"plan.changed"}))


def test_an_all_with_several_type_leaves_wants_only_their_common_types() -> None:
    criteria = {
        "all": [
            type_is(["a", "b"], "in"),
            type_is(["b", "c"], "in"),
            {"field": "user.attributes.plan", "op": "eq", "value": "pro"},
        ]
    }
    assert interest(criteria) == EventInterest(types=frozenset({"b"}))


# ---- any other exit criteria may hold for any event ---------------------------------------------


@pytest.mark.parametrize(
    "criteria",
    [
        pytest.param({"field": "user.attributes.plan", "op": "eq", "value": "free"}, id="user"),
        pytest.param({"field": "event.properties.reason", "op": "exists"}, id="property"),
        pytest.param(type_is("unsubscribed", "ne"), id="type-ne"),
        pytest.param(type_is(["a"], "not_in"), id="type-not-in"),
        pytest.param(type_is("un", "starts_with"), id="type-starts-with"),
        pytest.param(type_is({"ref": "vars.entry.type"}), id="type-eq-ref"),
        pytest.param(type_is({"ref": "vars.stop_types"}, "in"), id="type-in-ref"),
        pytest.param({"any": [type_is("a"), type_is("b")]}, id="any"),
        pytest.param({"not": type_is("a")}, id="not"),
        pytest.param(
            {
                "all": [
                    {"field": "user.attributes.plan", "op": "eq", "value": "free"},
                    {"any": [type_is("a")]},
                ]
            },
            id="all-without-a-top-level-type-leaf",
        ),
        pytest.param({"all": [{"all": [type_is("a")]}]}, id="nested-all"),
    ],
)
def test_other_exit_criteria_want_any_type(criteria: dict[str, Any]) -> None:
    found = interest(criteria, wait("listen", "purchase"))
    assert found.any_type
    assert found.types == {"purchase"}  # the waits are still listed
    assert found.wants("purchase") and found.wants("anything.else")


def test_wants_is_any_type_or_a_listed_type() -> None:
    assert EventInterest(types=frozenset({"a"})).wants("a")
    assert not EventInterest(types=frozenset({"a"})).wants("b")
    assert EventInterest(any_type=True).wants("b")
    assert not EventInterest().wants("a")


def test_interest_is_a_frozen_value() -> None:
    found = EventInterest(types=frozenset({"a"}))
    with pytest.raises(AttributeError):
        found.any_type = True  # type: ignore[misc]
    assert found == EventInterest(frozenset({"a"}), False)
    assert hash(found) == hash(EventInterest(frozenset({"a"})))


# ---- the bundled examples ------------------------------------------------------------------------

EXAMPLE_INTERESTS = {
    "abandoned_cart": EventInterest(types=frozenset({"order.completed"})),
    "onboarding_activation": EventInterest(types=frozenset({"activated", "account.deleted"})),
    "referral": EventInterest(),
    "trial_expiry": EventInterest(),
    "winback_ab": EventInterest(types=frozenset({"session.started"})),
}


def test_every_example_has_an_expected_interest() -> None:
    assert {path.stem for path in (ROOT / "examples").glob("*.json")} == set(EXAMPLE_INTERESTS)


@pytest.mark.parametrize("name", sorted(EXAMPLE_INTERESTS))
def test_example_interest(name: str) -> None:
    data = json.loads((ROOT / "examples" / f"{name}.json").read_text())
    result = validate_journey(data)
    assert result.document is not None, result.problems
    assert event_interest(result.document) == EXAMPLE_INTERESTS[name]

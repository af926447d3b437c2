"""Trigger rules: what a valid rule is, which events match, and the run ids they start."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from dsl.triggers import (
    Reentry,
    TriggerRule,
    evaluate_trigger,
    event_type_matches,
    reentry_window,
)
from journey.contracts.ids import MAX_ID_LENGTH, trigger_workflow_id


def rule(**fields: Any) -> TriggerRule:
    return TriggerRule.model_validate({"event_type": "signup", **fields})


def errors(**fields: Any) -> list[tuple[tuple[str | int, ...], str]]:
    with pytest.raises(ValidationError) as caught:
        rule(**fields)
    return [(tuple(error["loc"]), error["type"]) for error in caught.value.errors()]


def event(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "evt-1",
        "type": "cart.abandoned",
        "user_id": "u1",
        "timestamp": "2026-11-22T10:00:00Z",
        "properties": {"cart_id": "c-9", "total": 35.5, "order": 42},
    }
    base.update(changes)
    return base


# ---- validation -------------------------------------------------------------------------------


@pytest.mark.parametrize("pattern", ["signup", "cart.*", "*", "a:b-c_d.e", "cart*"])
def test_exact_prefix_and_wildcard_patterns_are_valid(pattern: str) -> None:
    assert rule(event_type=pattern).event_type == pattern


@pytest.mark.parametrize("pattern", ["", "*cart", "ca*rt", "**", "cart.**", "a b", "cart/x"])
def test_malformed_patterns_are_refused(pattern: str) -> None:
    assert {loc for loc, _ in errors(event_type=pattern)} == {("event_type",)}


def test_defaults() -> None:
    plain = rule()
    assert (plain.dedupe_key, plain.user_id_path) == ("event.id", "event.user_id")
    assert (plain.reentry, plain.reentry_period, plain.conditions) == (Reentry.ALWAYS, None, None)
    assert plain.create_profile is False


def test_once_per_needs_a_period_and_only_once_per_takes_one() -> None:
    assert errors(reentry="once_per") == [((), "missing_reentry_period")]
    for policy in ("always", "once", "if_not_running"):
        assert errors(reentry=policy, reentry_period="P1D") == [((), "unexpected_reentry_period")]
    daily = rule(reentry="once_per", reentry_period="P1D")
    assert reentry_window(daily) == timedelta(days=1)
    assert reentry_window(rule(reentry="once_per", reentry_period=3600)) == timedelta(hours=1)
    assert reentry_window(rule()) is None
    assert daily.model_dump(mode="json")["reentry_period"] == "P1D"


@pytest.mark.parametrize("period", ["PT0S", "-P1D", "P400D"])
def test_periods_out_of_range_are_refused(period: str) -> None:
    assert errors(reentry="once_per", reentry_period=period) == [((), "invalid_reentry_period")]


def test_unknown_policies_and_keys_are_refused() -> None:
    assert errors(reentry="twice") == [(("reentry",), "enum")]
    assert errors(dedupe="event.id") == [(("dedupe",), "extra_forbidden")]


@pytest.mark.parametrize("name", ["dedupe_key", "user_id_path"])
def test_key_paths_must_be_fields_of_the_event(name: str) -> None:
    assert errors(**{name: "user.id"}) == [((name,), "not_an_event_field")]
    assert errors(**{name: "vars.entry.id"}) == [((name,), "not_an_event_field")]
    assert errors(**{name: "event..id"}) == [((name,), "invalid_field_path")]
    assert errors(**{name: "cart.id"}) == [((name,), "unknown_field_root")]
    assert getattr(rule(**{name: "event.properties.cart_id"}), name) == "event.properties.cart_id"


def test_conditions_are_checked_with_the_condition_language() -> None:
    bad = {"all": [{"field": "event.type", "op": "eq", "value": "x"}, {"field": "user.x"}]}
    # Locations carry the union tags ("all", "leaf"); the gateway drops them for clients.
    assert errors(conditions=bad) == [(("conditions", "all", "all", 1, "leaf", "op"), "missing")]


# ---- matching ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "event_type", "matches"),
    [
        ("signup", "signup", True),
        ("signup", "signup.completed", False),
        ("signup", "Signup", False),
        ("cart.*", "cart.abandoned", True),
        ("cart.*", "cart.", True),
        ("cart.*", "cart", False),
        ("cart.*", "carts.abandoned", False),
        ("cart*", "carts.abandoned", True),
        ("*", "anything.at:all", True),
    ],
)
def test_event_type_matches(pattern: str, event_type: str, matches: bool) -> None:
    assert event_type_matches(pattern, event_type) is matches


def test_a_matching_event_yields_its_keys() -> None:
    decision = evaluate_trigger(rule(event_type="cart.*"), event(), None)
    assert decision.matched is True
    assert (decision.user_id, decision.dedupe_value) == ("u1", "evt-1")
    assert decision.reasons == decision.failures == []


def test_another_type_does_not_match() -> None:
    decision = evaluate_trigger(rule(event_type="order.*"), event(), None)
    assert decision.matched is False
    assert decision.reasons == ["event type 'cart.abandoned' does not match 'order.*'"]


def test_the_failed_leaf_is_named_by_its_path() -> None:
    conditions = {
        "all": [
            {"field": "event.properties.total", "op": "gt", "value": 20},
            {
                "any": [
                    {"field": "event.properties.total", "op": "gt", "value": 100},
                    {"field": "user.attributes.plan", "op": "eq", "value": "pro"},
                ]
            },
        ]
    }
    decision = evaluate_trigger(rule(event_type="*", conditions=conditions), event(), None)
    assert decision.matched is False
    assert [(f.path, f.field, f.op) for f in decision.failures] == [
        ("/all/1/any/0", "event.properties.total", "gt"),
        ("/all/1/any/1", "user.attributes.plan", "eq"),
    ]
    assert decision.reasons[0].startswith("condition /all/1/any/0 failed: ")
    assert (decision.user_id, decision.dedupe_value) == ("u1", "evt-1")


def test_conditions_see_the_profile() -> None:
    is_pro = {"field": "user.attributes.plan", "op": "eq", "value": "pro"}
    pro = rule(event_type="*", conditions=is_pro)
    profile = {"id": "u1", "email": None, "attributes": {"plan": "pro"}}
    assert evaluate_trigger(pro, event(), profile).matched is True
    free = {**profile, "attributes": {"plan": "free"}}
    assert evaluate_trigger(pro, event(), free).matched is False
    # Without a profile the conditions see the user's id and no attributes.
    assert evaluate_trigger(pro, event(), None).failures[0].path == ""
    known = rule(event_type="*", conditions={"field": "user.id", "op": "eq", "value": "u1"})
    assert evaluate_trigger(known, event(), None).matched is True


def test_a_missing_user_id_or_dedupe_field_does_not_match() -> None:
    by_cart = rule(
        event_type="*",
        dedupe_key="event.properties.cart_id",
        user_id_path="event.properties.account",
    )
    decision = evaluate_trigger(by_cart, event(), None)
    assert decision.matched is False
    assert decision.reasons == ["no user id at event.properties.account"]
    assert decision.dedupe_value == "c-9"

    no_cart = event(properties={"account": "acme"})
    decision = evaluate_trigger(by_cart, no_cart, None)
    assert (decision.matched, decision.user_id, decision.dedupe_value) == (False, "acme", None)
    assert decision.reasons == ["no dedupe key at event.properties.cart_id"]


@pytest.mark.parametrize(
    ("value", "key"),
    [
        (42, "42"),
        (2.5, "2.5"),
        ("x", "x"),
        (True, None),
        (None, None),
        ({"a": 1}, None),
        ([1], None),
        ("", None),
        ("k" * 256, None),
        ("k" * 255, "k" * 255),
    ],
)
def test_only_strings_and_numbers_are_keys(value: Any, key: str | None) -> None:
    keyed = rule(event_type="*", dedupe_key="event.properties.key")
    decision = evaluate_trigger(keyed, event(properties={"key": value}), None)
    assert decision.dedupe_value == key
    assert decision.matched is (key is not None)


def test_a_numeric_user_id_is_text() -> None:
    numeric = rule(event_type="*", user_id_path="event.properties.order")
    assert evaluate_trigger(numeric, event(), None).user_id == "42"


# ---- run ids ----------------------------------------------------------------------------------


def test_one_run_per_dedupe_value_or_per_user_for_once() -> None:
    assert trigger_workflow_id("t1", "u1", "evt-1", once=False) == "trigger-t1-u1-evt-1"
    assert trigger_workflow_id("t1", "u1", "evt-1", once=True) == "trigger-t1-u1"
    assert trigger_workflow_id("t1", "u1", "evt-2", once=True) == "trigger-t1-u1"
    assert trigger_workflow_id("t1", "u1", "evt-2", once=False) != "trigger-t1-u1-evt-1"


def test_unsafe_characters_are_replaced_and_the_id_stays_unique() -> None:
    made = trigger_workflow_id("t1", "ada lovelace/1", "a#b?c", once=False)
    assert made.startswith("trigger-t1-ada_lovelace_1-a_b_c-")
    assert made == trigger_workflow_id("t1", "ada lovelace/1", "a#b?c", once=False)
    # Replacing is lossy: users whose ids differ only there must not share a run.
    assert trigger_workflow_id("t1", "a b", "k", once=True) != trigger_workflow_id(
        "t1", "a_b", "k", once=True
    )
    assert trigger_workflow_id("t1", "a.b@c:d-e_f", "k", once=False) == "trigger-t1-a.b@c:d-e_f-k"


def test_long_ids_are_hashed_short_and_stable() -> None:
    long_user, long_key = "u" * 200, "k" * 200
    made = trigger_workflow_id("t1", long_user, long_key, once=False)
    assert len(made) <= MAX_ID_LENGTH
    assert made.startswith("trigger-t1-")
    assert made == trigger_workflow_id("t1", long_user, long_key, once=False)
    assert made != trigger_workflow_id("t1", long_user, long_key + "x", once=False)
    assert made != trigger_workflow_id("t1", long_user + "x", long_key, once=False)
    once = trigger_workflow_id("t1", "u" * 300, long_key, once=True)
    assert len(once) <= MAX_ID_LENGTH
    assert once == trigger_workflow_id("t1", "u" * 300, "other", once=True)
    # Fits exactly: kept readable.
    fits = trigger_workflow_id("t1", "u", "k" * (MAX_ID_LENGTH - len("trigger-t1-u-")), once=False)
    assert len(fits) == MAX_ID_LENGTH
    assert fits.endswith("k")

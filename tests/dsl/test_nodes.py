"""Node helpers: sticky splits, local-time delays across DST, durations, the registry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from dsl.durations import format_duration
from dsl.nodes import (
    NODE_MODELS,
    NODE_REGISTRY,
    EmailNode,
    SplitNode,
    UntilTime,
    WebhookNode,
    build_registry,
    choose_variant,
    next_allowed_local_time,
    pick_timezone,
    resolve_timezone,
)


def split(*weights: int) -> SplitNode:
    return SplitNode.model_validate(
        {
            "id": "ab",
            "type": "split",
            "variants": [
                {"name": f"v{i}", "weight": w, "next": "x"} for i, w in enumerate(weights)
            ],
        }
    )


def test_choose_variant_is_deterministic_per_user_and_node() -> None:
    node = split(50, 50)
    first = [choose_variant(node.variants, f"user-{i}", "ab").name for i in range(200)]
    again = [choose_variant(node.variants, f"user-{i}", "ab").name for i in range(200)]
    assert first == again
    other_node = [choose_variant(node.variants, f"user-{i}", "other").name for i in range(200)]
    assert first != other_node  # a different node id reshuffles users


def test_choose_variant_follows_weights() -> None:
    node = split(50, 50)
    picks = [choose_variant(node.variants, f"user-{i}", "ab").name for i in range(10_000)]
    assert abs(picks.count("v0") / 10_000 - 0.5) < 0.03
    skewed = split(90, 10)
    picks = [choose_variant(skewed.variants, f"user-{i}", "ab").name for i in range(10_000)]
    assert abs(picks.count("v1") / 10_000 - 0.1) < 0.03


def test_split_rules() -> None:
    with pytest.raises(ValidationError, match=r"duplicate_variant|unique"):
        SplitNode.model_validate(
            {
                "id": "s",
                "type": "split",
                "variants": [
                    {"name": "a", "weight": 1, "next": "x"},
                    {"name": "a", "weight": 1, "next": "y"},
                ],
            }
        )
    with pytest.raises(ValidationError):
        split(50)
    with pytest.raises(ValidationError):
        split(50, 0)


WEEKDAYS_10 = UntilTime(hour=10, weekdays=["mon", "tue", "wed", "thu", "fri"])


def test_next_allowed_local_time_later_today_and_tomorrow() -> None:
    # Tue 2026-11-17 08:00 in New York (UTC-5) -> 10:00 the same day.
    now = datetime(2026, 11, 17, 13, 0, tzinfo=UTC)
    assert next_allowed_local_time(now, WEEKDAYS_10, "America/New_York") == datetime(
        2026, 11, 17, 15, 0, tzinfo=UTC
    )
    # 11:00 local: already past, so Wednesday 10:00.
    now = datetime(2026, 11, 17, 16, 0, tzinfo=UTC)
    assert next_allowed_local_time(now, WEEKDAYS_10, "America/New_York") == datetime(
        2026, 11, 18, 15, 0, tzinfo=UTC
    )


def test_next_allowed_local_time_skips_weekend() -> None:
    now = datetime(2026, 11, 20, 16, 0, tzinfo=UTC)  # Friday 11:00 in New York
    result = next_allowed_local_time(now, WEEKDAYS_10, "America/New_York")
    assert result == datetime(2026, 11, 23, 15, 0, tzinfo=UTC)  # Monday 10:00 EST
    assert result.astimezone(ZoneInfo("America/New_York")).strftime("%a %H:%M") == "Mon 10:00"


def test_next_allowed_local_time_across_dst_change() -> None:
    # Europe/Berlin leaves summer time on Sun 2026-10-25. Saturday 12:00 CEST, after 10:00:
    now = datetime(2026, 10, 24, 10, 0, tzinfo=UTC)
    result = next_allowed_local_time(now, UntilTime(hour=10), "Europe/Berlin")
    assert result == datetime(2026, 10, 25, 9, 0, tzinfo=UTC)  # 10:00 CET is 09:00 UTC
    # Spring forward, Sun 2026-03-29: 02:30 does not exist; it resolves to 03:30 CEST.
    now = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)
    result = next_allowed_local_time(now, UntilTime(hour=2, minute=30), "Europe/Berlin")
    assert result == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    assert result.astimezone(ZoneInfo("Europe/Berlin")).hour == 3


def test_next_allowed_local_time_at_the_exact_minute_is_now() -> None:
    now = datetime(2026, 11, 17, 10, 0, tzinfo=UTC)
    assert next_allowed_local_time(now, UntilTime(hour=10), "UTC") == now


def test_resolve_timezone_fallbacks() -> None:
    node = UntilTime(hour=9, timezone_field="user.attributes.tz")
    ctx = {"user": {"attributes": {"tz": "Asia/Tokyo"}}}
    assert resolve_timezone(node, ctx, "UTC") == "Asia/Tokyo"
    assert resolve_timezone(node, {"user": {"attributes": {"tz": "Mars/X"}}}, "Europe/Paris") == (
        "Europe/Paris"
    )
    assert resolve_timezone(node, {}, "Europe/Paris") == "Europe/Paris"
    overridden = UntilTime(hour=9, timezone_field="user.attributes.tz", timezone="Asia/Kolkata")
    assert resolve_timezone(overridden, {}, "Europe/Paris") == "Asia/Kolkata"
    assert pick_timezone(42, None, "nope") == "UTC"


def test_until_time_rules() -> None:
    with pytest.raises(ValidationError):
        UntilTime(hour=24)
    with pytest.raises(ValidationError):
        UntilTime.model_validate({"hour": 1, "weekdays": ["mon", "mon"]})
    with pytest.raises(ValidationError):
        UntilTime.model_validate({"hour": 1, "weekdays": []})


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(days=1), "P1D"),
        (timedelta(hours=2), "PT2H"),
        (timedelta(seconds=10), "PT10S"),
        (timedelta(days=1, hours=2, minutes=3, seconds=4.5), "P1DT2H3M4.5S"),
        (timedelta(0), "PT0S"),
        (-timedelta(hours=1), "-PT1H"),
    ],
)
def test_format_duration(delta: timedelta, text: str) -> None:
    assert format_duration(delta) == text


def test_registry_has_every_type_and_rejects_duplicates() -> None:
    assert set(NODE_REGISTRY) == {
        "email",
        "webhook",
        "update_attributes",
        "emit_event",
        "lifecycle_transition",
        "sub_journey",
        "condition",
        "split",
        "delay",
        "wait_for_event",
        "parallel",
        "end",
    }
    with pytest.raises(ValueError, match="email"):
        build_registry([*NODE_MODELS, EmailNode])


def test_email_needs_a_body_and_webhook_defaults() -> None:
    with pytest.raises(ValidationError, match=r"missing_body|text"):
        EmailNode.model_validate({"id": "m", "to": "a", "subject": "s", "next": "x"})
    hook = WebhookNode.model_validate({"id": "h", "url": "https://x.test", "next": "x"})
    assert (hook.method, hook.request_timeout) == ("POST", timedelta(seconds=10))
    assert hook.accepts(204) and not hook.accepts(302)
    with pytest.raises(ValidationError):
        WebhookNode.model_validate({"id": "h", "url": "u", "accept_status": [99]})

"""Every bundled example runs end to end: as written on the time-skipping server (days pass in
seconds), and on the dev server with its delays and timeouts shortened to seconds."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest

from tests.workflows.conftest import JourneyRunner, load_example, point_webhooks_at

PAST = "2020-01-01T00:00:00Z"


def event(type_: str, **properties: Any) -> dict[str, Any]:
    return {"id": f"evt-{type_}", "type": type_, "user_id": "u1", "properties": properties}


@dataclass
class Scenario:
    example: str
    outcome: str
    user: dict[str, Any] = field(default_factory=dict)
    entry: dict[str, Any] | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    # Events sent only once this many emails went out (to land after a wait began).
    events_after_emails: int = 0
    emails: int = 0
    webhooks: int = 0
    stage: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)


SCENARIOS = [
    Scenario(
        "onboarding_activation",
        "activated",
        user={"attributes": {"first_name": "Ada"}},
        entry=event("signup"),
        events=[event("activated")],
        emails=1,
        stage="Activation",
    ),
    Scenario(
        "abandoned_cart",
        "purchased",
        entry=event("cart.abandoned", cart_id="c1", item_count=2),
        events=[event("order.completed", cart_id="c1")],
        events_after_emails=1,
        emails=1,
        attributes={"orders_count": 1, "last_order_cart_id": "c1"},
    ),
    Scenario(
        "trial_expiry",
        "downgraded",
        user={
            "attributes": {
                "trial_reminder_at": PAST,
                "trial_ends_at": PAST,
                "plan": "trial",
                "timezone": "Europe/Paris",
            }
        },
        emails=1,
        attributes={"plan": "free"},
    ),
    Scenario(
        "winback_ab", "won_back", events=[event("session.started")], emails=1, stage="Retention"
    ),
    Scenario(
        "referral",
        "rewarded",
        entry=event("referral.converted", friend_id="f9"),
        emails=1,
        webhooks=1,
        stage="Referral",
        attributes={"referral_credits": 10, "referred_users": ["f9"]},
    ),
]


def shortened(document: dict[str, Any]) -> dict[str, Any]:
    """The dev server runs in real time: every delay becomes 1s and every timeout 5s."""
    changed = copy.deepcopy(document)
    for node in changed["nodes"]:
        if node["type"] == "delay":
            for mode in ("duration", "until_field", "until_time"):
                node.pop(mode, None)
            node["duration"] = "PT1S"
        if node["type"] == "wait_for_event":
            node["timeout"] = "PT5S"
    return changed


async def run_scenario(runner: JourneyRunner, scenario: Scenario, document: dict[str, Any]) -> None:
    env = runner.env
    runner.seed_user("u1", **scenario.user)
    document = point_webhooks_at(document, env.http_receiver.url("/hook"))
    handle = await runner.start(document, entry_event=scenario.entry)
    if scenario.events_after_emails:
        await env.smtp_server.wait_for(scenario.events_after_emails, timeout=60)
    for sent in scenario.events:
        await handle.signal("event", sent)
    result = await handle.result()

    assert result.outcome == scenario.outcome, result.step_log
    assert all(step.outcome == "ok" for step in result.step_log), result.step_log
    assert len(env.smtp_server.messages) == scenario.emails
    assert len(env.http_receiver.requests) == scenario.webhooks
    user = runner.user("u1")
    if scenario.stage:
        assert user.current_lifecycle_stage == scenario.stage
    assert scenario.attributes.items() <= user.attributes.items()


# The time-skipping server only moves time while a result is awaited, so a test cannot wait for
# the reminder before sending the purchase: there the cart is recorded as abandoned instead.
SKIPPING_SCENARIOS = [
    Scenario(
        "abandoned_cart",
        "abandoned",
        entry=event("cart.abandoned", cart_id="c1", item_count=2),
        emails=1,
    )
    if s.example == "abandoned_cart"
    else s
    for s in SCENARIOS
]


@pytest.mark.parametrize("scenario", SKIPPING_SCENARIOS, ids=lambda s: s.example)
async def test_example_as_written_on_the_time_skipping_server(
    skipping_runner: JourneyRunner, scenario: Scenario
) -> None:
    await run_scenario(skipping_runner, scenario, load_example(scenario.example))


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.example)
async def test_example_on_the_dev_server(journey_runner: JourneyRunner, scenario: Scenario) -> None:
    await run_scenario(journey_runner, scenario, shortened(load_example(scenario.example)))


async def test_onboarding_without_activation_waits_days_then_tells_the_crm(
    skipping_runner: JourneyRunner,
) -> None:
    skipping_runner.seed_user("u1")
    document = point_webhooks_at(
        load_example("onboarding_activation"), skipping_runner.env.http_receiver.url("/crm")
    )
    entry = {**event("signup"), "timestamp": "2026-11-22T10:00:00Z"}
    result = await skipping_runner.run(document, entry_event=entry)
    assert result.outcome == "stalled"
    started = result.step_log[0].started_at
    finished = result.step_log[-1].finished_at
    assert finished is not None and finished - started >= timedelta(days=4)
    crm = skipping_runner.env.http_receiver.requests[0].json()
    assert crm == {"user_id": "u1", "email": "u1@example.com", "signed_up_at": entry["timestamp"]}

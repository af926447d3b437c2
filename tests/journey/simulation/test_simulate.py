"""Time-travel simulation of whole journeys: paths, rendered messages, profile changes, horizons.

Every test runs the product's interpreter on its own time-skipping server; only the
activities are the recording stand-ins. Offsets are virtual: a 30-day journey takes seconds.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from journey.core.config import Settings
from journey.simulation.models import Scenario, SimulationResult
from journey.simulation.runner import simulate
from tests.harness.http_receiver import HttpReceiver
from tests.journey.simulation.conftest import Simulate, example, snapshot, webhooks_to

ADA = {"id": "ada", "email": "ada@example.com", "attributes": {"first_name": "Ada"}}


def nodes(result: SimulationResult) -> list[str]:
    return [e.node_id for e in result.timeline if e.kind == "node" and e.node_id]


def entry(result: SimulationResult, node_id: str) -> Any:
    found = [e for e in result.timeline if e.node_id == node_id]
    assert len(found) == 1, [e.summary for e in result.timeline]
    return found[0]


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


async def test_a_30_day_trial_runs_to_its_end(run_simulation: Simulate) -> None:
    now = datetime.now(UTC)
    user = {
        "id": "bo",
        "email": "bo@example.com",
        "attributes": {
            "plan": "trial",
            "trial_reminder_at": iso(now + timedelta(days=27)),
            "trial_ends_at": iso(now + timedelta(days=30)),
            "timezone": "UTC",
        },
    }
    result = await run_simulation(example("trial_expiry"), {"user": user})

    assert result.status == "completed"
    assert result.outcome == "downgraded"
    assert nodes(result) == [
        "until_reminder_day",
        "at_ten_local",
        "reminder",
        "until_trial_end",
        "upgraded",
        "downgrade",
        "announce_downgrade",
        "downgraded",
    ]
    reminder = entry(result, "reminder")
    # The reminder waits for its day (27 days) and then for 10:00 on a weekday.
    assert timedelta(days=27) <= reminder.at - result.started_at < timedelta(days=31)
    assert reminder.effect.details["subject"] == (
        f"Your trial ends on {user['attributes']['trial_ends_at']}"  # type: ignore[index]
    )
    assert result.ended_at is not None
    assert result.ended_at >= now + timedelta(days=30)  # the trial's end, on the virtual clock
    # The downgrade changed the in-memory profile only; the event would carry rendered values.
    assert result.user["attributes"]["plan"] == "free"
    assert "trial_reminder_at" not in result.user["attributes"]
    emitted = entry(result, "announce_downgrade").effect
    assert emitted.details["event"]["properties"] == {"user_id": "bo", "previous_plan": "trial"}
    assert result.effects == {"email": 1, "update_attributes": 1, "emit_event": 1}


async def test_an_event_in_the_timeline_changes_the_path(
    run_simulation: Simulate, http_receiver: HttpReceiver
) -> None:
    journey = webhooks_to(example("onboarding_activation"), http_receiver.url("/crm"))
    base = {"user": ADA, "entry_event": {"type": "signup", "properties": {"plan": "pro"}}}

    quiet = await run_simulation(journey, base)
    assert quiet.outcome == "stalled"
    assert "move_to_activation" not in nodes(quiet)
    assert entry(quiet, "wait_for_activation").summary.startswith("no activated within P3D")
    call = entry(quiet, "tell_crm").effect
    assert call.action == "webhook"
    assert call.details["method"] == "POST"
    assert call.details["url"] == http_receiver.url("/crm")
    signed_up = quiet.variables["entry"]["timestamp"]
    assert call.details["body"] == {
        "user_id": "ada",
        "email": "ada@example.com",
        "signed_up_at": signed_up,
    }

    activated = await run_simulation(
        journey, {**base, "events": [{"at": "P2D", "type": "activated", "id": "act-1"}]}
    )
    assert activated.outcome == "activated"
    assert activated.goal_reached is True
    assert "tell_crm" not in nodes(activated)
    wait = entry(activated, "wait_for_activation")
    assert wait.summary.startswith("received activated after P1D")
    arrival = next(e for e in activated.timeline if e.kind == "event")
    assert arrival.offset == "P2D" and arrival.event is not None
    assert arrival.event["id"] == "act-1" and arrival.outcome == "delivered"
    stage = entry(activated, "move_to_activation").effect
    assert stage.details["from_stage"] == "Acquisition"
    assert stage.details["to_stage"] == "Activation"
    assert activated.user["current_lifecycle_stage"] == "Activation"
    assert http_receiver.requests == []


async def test_an_event_after_the_run_ended_is_not_delivered(run_simulation: Simulate) -> None:
    result = await run_simulation(
        example("onboarding_activation"),
        {
            "user": {**ADA, "attributes": {"activated": True}},
            "events": [{"at": "P5D", "type": "activated"}],
        },
    )
    assert result.outcome == "activated"
    late = next(e for e in result.timeline if e.kind == "event")
    assert late.outcome == "not_delivered"
    assert "already ended" in late.summary
    assert result.timeline[-1].kind == "event"  # after the end entry, in virtual time


async def test_templates_are_rendered_by_the_real_email_code(run_simulation: Simulate) -> None:
    user = {**ADA, "attributes": {"first_name": "<Ada & co>"}}
    result = await run_simulation(example("onboarding_activation"), {"user": user})
    email = entry(result, "nudge_email").effect
    assert email.action == "email" and email.outcome == "sent"
    assert email.details["to"] == "ada@example.com"
    assert email.details["subject"] == "<Ada & co>, your workspace is waiting"
    assert email.details["text"].startswith("Hi <Ada & co>, finish setting up")
    # HTML parts escape what they insert, exactly as a real send would.
    assert "<p>Hi &lt;Ada &amp; co&gt;,</p>" in email.details["html"]
    assert email.details["message_id"].endswith("@journey>")


async def test_an_opted_out_user_is_suppressed_as_for_real(run_simulation: Simulate) -> None:
    user = {**ADA, "attributes": {"email_opt_out": True}}
    result = await run_simulation(example("onboarding_activation"), {"user": user})
    email = entry(result, "nudge_email")
    assert email.effect.outcome == "suppressed"
    assert "opted out" in email.summary
    assert "email" not in result.effects


PROFILE_LOOP = {
    "name": "Upgrade then check",
    "start": "upgrade",
    "nodes": [
        {
            "id": "upgrade",
            "type": "update_attributes",
            "next": "is_pro",
            "operations": [
                {"op": "set", "path": "plan", "value": "{{ event.properties.plan }}"},
                {"op": "increment", "path": "upgrades"},
            ],
        },
        {
            "id": "is_pro",
            "type": "condition",
            "default": "not_pro",
            "branches": [
                {
                    "when": {"field": "user.attributes.plan", "op": "eq", "value": "pro"},
                    "next": "welcome_pro",
                }
            ],
        },
        {
            "id": "welcome_pro",
            "type": "email",
            "to": "{{ user.email }}",
            "subject": "Welcome to {{ user.attributes.plan }} ({{ user.attributes.upgrades }})",
            "text": "t",
            "next": "pro",
        },
        {"id": "pro", "type": "end", "outcome": "pro"},
        {"id": "not_pro", "type": "end", "outcome": "not_pro"},
    ],
}


async def test_simulated_updates_are_seen_by_later_nodes(run_simulation: Simulate) -> None:
    scenario = {
        "user": {**ADA, "attributes": {"upgrades": 2}},
        "entry_event": {"type": "plan.changed", "properties": {"plan": "pro"}},
    }
    result = await run_simulation(PROFILE_LOOP, scenario)
    assert result.outcome == "pro"
    update = entry(result, "upgrade").effect
    assert update.details["before"] == {"upgrades": 2}
    assert update.details["after"] == {"upgrades": 3, "plan": "pro"}
    assert entry(result, "welcome_pro").effect.details["subject"] == "Welcome to pro (3)"
    assert result.user["attributes"] == {"upgrades": 3, "plan": "pro"}


async def test_the_horizon_ends_a_run_that_still_waits(run_simulation: Simulate) -> None:
    waiting = {
        "name": "Long wait",
        "start": "wait",
        "nodes": [
            {
                "id": "wait",
                "type": "wait_for_event",
                "event_type": "renewed",
                "timeout": "P60D",
                "on_event": "done",
                "on_timeout": "done",
            },
            {"id": "done", "type": "end"},
        ],
    }
    result = await run_simulation(waiting, {"user": ADA, "horizon": "P7D"})
    assert result.status == "waiting"
    assert result.waiting_at == ["wait"]
    assert result.waiting_for is not None and "renewed" in result.waiting_for
    assert entry(result, "wait").outcome == "open"
    end = result.timeline[-1]
    assert end.kind == "end" and end.offset == "P7D"
    assert "still waiting at node wait" in end.summary


async def test_webhook_answers_feed_save_as_and_errors_take_on_error(
    run_simulation: Simulate,
) -> None:
    journey = {
        "name": "CRM lookup",
        "start": "lookup",
        "nodes": [
            {
                "id": "lookup",
                "type": "webhook",
                "url": "https://crm.example.com/u/{{ user.id }}",
                "method": "GET",
                "save_as": "crm",
                "next": "notify",
                "on_error": "failed",
            },
            {
                "id": "notify",
                "type": "email",
                "to": "{{ user.email }}",
                "subject": "Your manager is {{ vars.crm.manager }}",
                "text": "t",
                "next": "done",
            },
            {"id": "done", "type": "end"},
            {"id": "failed", "type": "end", "outcome": "crm_down"},
        ],
    }
    answered = await run_simulation(
        journey,
        {
            "user": ADA,
            "webhook_responses": {"lookup": {"status": 200, "body": {"manager": "Bo"}}},
        },
    )
    assert answered.outcome == "completed"
    assert entry(answered, "lookup").effect.details["url"] == "https://crm.example.com/u/ada"
    assert entry(answered, "notify").effect.details["subject"] == "Your manager is Bo"

    refused = await run_simulation(
        journey, {"user": ADA, "webhook_responses": {"lookup": {"status": 404}}}
    )
    assert refused.outcome == "crm_down"
    lookup = entry(refused, "lookup")
    assert lookup.outcome == "error" and "404" in lookup.summary
    assert "notify" not in nodes(refused)


async def test_a_template_error_fails_the_run_and_says_why(run_simulation: Simulate) -> None:
    # No entry event: the CRM webhook's `{{ event.timestamp }}` cannot render.
    result = await run_simulation(example("onboarding_activation"), {"user": ADA})
    assert result.status == "failed"
    assert result.error is not None and "event.timestamp" in result.error
    crm = entry(result, "tell_crm")
    assert crm.outcome == "failed"
    assert crm.effect.outcome == "failed" and "TemplateError" in crm.effect.details["error"]


async def test_sub_journeys_run_with_their_own_timeline(run_simulation: Simulate) -> None:
    child = {
        "name": "Child",
        "start": "hello",
        "nodes": [
            {
                "id": "hello",
                "type": "email",
                "to": "{{ user.email }}",
                "subject": "From the child",
                "text": "t",
                "next": "pause",
            },
            {"id": "pause", "type": "delay", "duration": "P2D", "next": "done"},
            {"id": "done", "type": "end", "outcome": "child_done"},
        ],
    }
    parent = {
        "name": "Parent",
        "start": "child",
        "nodes": [
            {"id": "child", "type": "sub_journey", "journey_id": "child-journey", "next": "end"},
            {"id": "end", "type": "end", "outcome": "parent_done"},
        ],
    }
    result = await run_simulation(parent, {"user": ADA}, sub_journeys={"child-journey": child})
    assert result.outcome == "parent_done"
    hello = next(e for e in result.timeline if e.node_id == "hello")
    assert hello.run == "main/child"
    assert hello.effect is not None and hello.effect.details["subject"] == "From the child"
    assert "ended with outcome child_done" in entry(result, "child").summary

    missing = await run_simulation(parent, {"user": ADA})
    assert missing.status == "failed"
    assert "not available to the simulation" in (missing.error or "") + str(
        [e.summary for e in missing.timeline]
    )


async def test_the_real_time_limit_stops_a_simulation(sim_settings: Settings) -> None:
    result = await simulate(
        snapshot(example("onboarding_activation")),
        Scenario.model_validate({"user": ADA}),
        settings=sim_settings,
        timeout_seconds=1e-6,  # over before the clock can move
    )
    assert result.status == "timed_out"
    assert result.outcome is None
    end = result.timeline[-1]
    assert end.kind == "end" and end.outcome == "timed_out"
    assert "real-time limit" in end.summary

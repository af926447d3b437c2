"""Each re-entry policy, decided by the consumer from real events on the real servers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from dsl.events import EventEnvelope
from journey.core.db.models import WorkflowExecution
from tests.journey.ingest.conftest import IngestStack

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
# Stays open until the user's "finish" event arrives (through the consumer's signal).
UNTIL_FINISHED: dict[str, Any] = {
    "name": "until finished",
    "start": "wait",
    "nodes": [
        {
            "id": "wait",
            "type": "wait_for_event",
            "event_type": "finish",
            "timeout": "P1D",
            "on_event": "done",
            "on_timeout": "done",
        },
        {"id": "done", "type": "end"},
    ],
}


def signup(user: str, at: datetime, **properties: Any) -> EventEnvelope:
    return EventEnvelope(type="signup", user_id=user, timestamp=at, properties=properties)


def outcomes(ingest: IngestStack, trigger: str) -> list[str | None]:
    return [row.decision for row in ingest.decisions(trigger)]


async def run_events(ingest: IngestStack, events: list[EventEnvelope]) -> None:
    async with ingest.consumer() as consumer:
        ingest.produce(events)
        await ingest.handled(consumer, len(events))


async def test_always_starts_a_run_per_dedupe_value(ingest: IngestStack) -> None:
    trigger = ingest.trigger(
        ingest.journey(), reentry="always", dedupe_key="event.properties.order", create_profile=True
    )
    events = [
        signup("u1", T0, order="A"),
        signup("u1", T0 + timedelta(minutes=1), order="B"),
        signup("u1", T0 + timedelta(minutes=2), order="A"),
    ]
    await run_events(ingest, events)
    assert outcomes(ingest, trigger) == ["started", "started", "skipped"]
    assert "dedupe key 'A'" in (ingest.decisions(trigger)[2].reason or "")
    assert len(set(ingest.started_ids())) == 2


async def test_once_starts_one_run_per_user_ever(ingest: IngestStack) -> None:
    trigger = ingest.trigger(ingest.journey(), reentry="once", create_profile=True)
    events = [signup("u1", T0), signup("u2", T0), signup("u1", T0 + timedelta(days=30))]
    await run_events(ingest, events)
    by_user = [(row.user_id, row.event_at, row.decision) for row in ingest.decisions(trigger)]
    assert sorted(by_user) == [
        ("u1", T0, "started"),
        ("u1", T0 + timedelta(days=30), "skipped"),
        ("u2", T0, "started"),
    ]
    assert sorted(ingest.started_ids()) == sorted(
        [f"trigger-{trigger}-u1", f"trigger-{trigger}-u2"]
    )


async def test_once_per_waits_out_the_period_from_the_last_entry(ingest: IngestStack) -> None:
    trigger = ingest.trigger(
        ingest.journey(), reentry="once_per", reentry_period="P1D", create_profile=True
    )
    times = [T0, T0 + timedelta(hours=23), T0 + timedelta(hours=25), T0 + timedelta(hours=26)]
    await run_events(ingest, [signup("u1", at) for at in times])
    # 23h after the first: too soon; 25h: a new day's entry; 26h: 1h after that entry.
    assert outcomes(ingest, trigger) == ["started", "skipped", "started", "skipped"]
    assert "once_per" in (ingest.decisions(trigger)[1].reason or "")


async def test_if_not_running_enters_only_while_no_run_is_open(ingest: IngestStack) -> None:
    journey = ingest.journey(UNTIL_FINISHED)
    trigger = ingest.trigger(journey, reentry="if_not_running", create_profile=True)
    first, second = signup("u1", T0), signup("u1", T0 + timedelta(minutes=1))
    finish = EventEnvelope(type="finish", user_id="u1")
    third = signup("u1", T0 + timedelta(minutes=2))
    async with ingest.consumer() as consumer:
        ingest.produce([first, second])
        await ingest.handled(consumer, 2)
        assert outcomes(ingest, trigger) == ["started", "skipped"]
        assert "is running" in (ingest.decisions(trigger)[1].reason or "")
        ingest.produce([finish])  # wakes the open run, which then ends
        await ingest.wait_for(
            lambda: ingest.count(WorkflowExecution, WorkflowExecution.status == "completed") == 1,
            "the first run to complete",
        )
        ingest.produce([third])
        await ingest.handled(consumer, 4)
    assert outcomes(ingest, trigger) == ["started", "skipped", "started"]
    assert len(set(ingest.started_ids())) == 2

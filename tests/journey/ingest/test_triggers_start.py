"""Events start the journeys whose triggers match, once per trigger, user and dedupe key."""

from __future__ import annotations

import uuid

from dsl.events import EventEnvelope
from journey.contracts.ids import trigger_workflow_id
from journey.core.db.models import LifecycleEvent, Trigger, User, WorkflowExecution
from tests.journey.ingest.conftest import IngestStack


async def test_a_matching_event_starts_the_journey_and_the_run_completes(
    ingest: IngestStack,
) -> None:
    journey = ingest.journey()
    trigger = ingest.trigger(
        journey,
        conditions={"field": "event.properties.plan", "op": "eq", "value": "pro"},
        create_profile=True,
    )
    pro = EventEnvelope(type="signup", user_id="ada", properties={"plan": "pro"})
    free = EventEnvelope(type="signup", user_id="bob", properties={"plan": "free"})
    other = EventEnvelope(type="login", user_id="ada")
    async with ingest.consumer() as consumer:
        ingest.produce([pro, free, other])
        await ingest.handled(consumer, 3)
        await ingest.wait_for(
            lambda: ingest.count(WorkflowExecution, WorkflowExecution.status == "completed") == 1,
            "the run to complete",
        )
    assert ingest.started_ids() == [trigger_workflow_id(trigger, "ada", pro.id, once=False)]
    decisions = {row.event_id: row for row in ingest.decisions(trigger)}
    assert decisions[pro.id].decision == "started"
    assert decisions[pro.id].workflow_execution_id is not None
    assert decisions[free.id].decision == "not_matched"
    assert "event.properties.plan is 'free'" in (decisions[free.id].reason or "")
    assert other.id not in decisions  # another type: not this trigger's business
    assert ingest.count(LifecycleEvent) == 3
    assert ingest.count(User) == 2  # profiles created from the signups
    assert consumer.tally.started == 1


async def test_trigger_changes_reach_a_running_consumer(ingest: IngestStack) -> None:
    journey = ingest.journey()
    ingest.user("ada")
    before = EventEnvelope(type="signup", user_id="ada")
    async with ingest.consumer() as consumer:
        cache = consumer.trigger_cache  # reloaded at the start of a batch, once stale

        def live() -> set[str]:
            return {t.id for t in cache.matching("signup")}

        ingest.produce([before])
        await ingest.handled(consumer, 1)
        trigger = ingest.trigger(journey)  # created while the consumer runs
        await ingest.wait_for(cache.is_stale, "the trigger cache to be due for a reload")
        after = EventEnvelope(type="signup", user_id="ada")
        ingest.produce([after])
        await ingest.handled(consumer, 2)
        assert trigger in live()  # the batch of `after` reloaded the cache before handling it
        with ingest.sessions() as session:
            row = session.get(Trigger, uuid.UUID(trigger))
            assert row is not None
            row.enabled = False
            session.add(row)
            session.commit()
        await ingest.wait_for(cache.is_stale, "the trigger cache to be due for a reload")
        disabled = EventEnvelope(type="signup", user_id="ada")
        ingest.produce([disabled])
        await ingest.handled(consumer, 3)  # handled: any decision on it is written by now
        assert trigger not in live()  # and it was handled with the trigger gone
    assert [row.event_id for row in ingest.decisions(trigger)] == [after.id]
    assert ingest.started_ids() == [trigger_workflow_id(trigger, "ada", after.id, once=False)]


async def test_matching_events_that_cannot_start_are_skipped_with_the_reason(
    ingest: IngestStack,
) -> None:
    inactive = ingest.trigger(ingest.journey(status="inactive"), event_type="signup")
    strict = ingest.trigger(ingest.journey(), event_type="sign*")  # create_profile off
    ingest.user("known")
    stranger = EventEnvelope(type="signup", user_id="stranger")
    known = EventEnvelope(type="signup.completed", user_id="known")
    async with ingest.consumer() as consumer:
        ingest.produce([stranger, known])
        await ingest.handled(consumer, 2)
    [skipped_inactive] = ingest.decisions(inactive)  # signup.completed is not "signup"
    assert (skipped_inactive.decision, skipped_inactive.reason) == (
        "skipped",
        "the journey is not active",
    )
    by_event = {row.event_id: row for row in ingest.decisions(strict)}
    assert by_event[stranger.id].decision == "skipped"
    assert "has no profile" in (by_event[stranger.id].reason or "")
    assert by_event[stranger.id].user_id is None  # no profile row was made for it
    assert by_event[known.id].decision == "started"  # the prefix matched signup.completed
    assert ingest.count(User) == 1


async def test_two_triggers_of_one_journey_each_start_their_run(ingest: IngestStack) -> None:
    journey = ingest.journey()
    first = ingest.trigger(journey, event_type="signup", create_profile=True)
    second = ingest.trigger(journey, event_type="sign*", create_profile=True)
    event = EventEnvelope(type="signup", user_id="ada")
    async with ingest.consumer() as consumer:
        ingest.produce([event])
        await ingest.handled(consumer, 1)
    assert sorted(ingest.started_ids()) == sorted(
        trigger_workflow_id(trigger, "ada", event.id, once=False) for trigger in (first, second)
    )

"""The batch path decides like the one-at-a-time path (journey/ingest/batch.py).

Every test produces all its events before the consumer starts, so they arrive in one batch and
the first event of each user group goes the batch path; what must not go that way (a second
event of a user, a dedupe value another user's event also carries, an `if_not_running`
trigger) still ends as the one-at-a-time path decides it.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from temporalio.client import WorkflowExecutionStatus

from dsl.events import EventEnvelope
from journey.contracts.runs import JourneyResult
from journey.core.db.models import LifecycleEvent, User
from journey.ingest import batch
from journey.ingest.batch import BatchPlanner
from journey.ingest.planner import Plan, Planner
from journey.ingest.trigger_cache import TriggerCache
from tests.harness.database import temporary_database_url
from tests.harness.env import JourneyEnv
from tests.journey.ingest.conftest import IngestStack, ingest_stack

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def order(user: str, order_id: str, **properties: object) -> EventEnvelope:
    return EventEnvelope(
        type="order.placed", user_id=user, properties={"order": order_id, **properties}
    )


@pytest_asyncio.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def stack(
    request: pytest.FixtureRequest, journey_env: JourneyEnv, tmp_path: Path
) -> AsyncIterator[IngestStack]:
    """A stack without a worker on either database (the claim statement differs)."""
    with temporary_database_url(request.param, tmp_path, migrated=True) as url:
        async with ingest_stack(journey_env, url, worker=False) as ingest:
            yield ingest


def plan_together(ingest: IngestStack, sent: list[EventEnvelope]) -> list[tuple[str, Plan]]:
    cache = TriggerCache(ingest.sessions, refresh_seconds=0)
    cache.refresh_if_stale()
    chosen = batch.candidates(sent, cache.matching)
    return [
        (c.envelope.id, plan) for c, plan in BatchPlanner(Planner(ingest.sessions)).plan(chosen)
    ]


async def test_the_batch_leaves_out_what_depends_on_another_first_event(
    stack: IngestStack,
) -> None:
    ingest = stack
    trigger = ingest.trigger(
        ingest.journey(),
        event_type="order.placed",
        create_profile=True,
        dedupe_key="event.properties.order",
    )
    firsts = [order(f"u{i}", f"o{i}", email=f"u{i}@example.com") for i in range(4)]
    again = order("u0", "o-other")  # u0 again: after its first event, one at a time
    other = order("v1", "o1")  # u1's order from another user: must see u1's decision
    plans = dict(plan_together(ingest, [*firsts, again, other]))
    assert set(plans) == {e.id for e in firsts}
    assert all(len(plan.starts) == 1 and plan.new_event for plan in plans.values())
    decided = {row.event_id: row for row in ingest.decisions(trigger)}
    assert set(decided) == set(plans)
    assert {row.decision for row in decided.values()} == {"pending"}
    assert ingest.count(LifecycleEvent) == 4
    with ingest.sessions() as session:  # profiles made with the event's email
        u2 = session.get(User, "u2")
        assert u2 is not None and u2.email == "u2@example.com"
        assert session.get(User, "v1") is None
    # Delivered again, the same events are left to the one-at-a-time path (it replays).
    assert plan_together(ingest, firsts) == []


async def test_decisions_recorded_before_are_respected(stack: IngestStack) -> None:
    ingest = stack
    trigger = ingest.trigger(
        ingest.journey(),
        event_type="order.placed",
        create_profile=True,
        dedupe_key="event.properties.order",
    )
    earlier = order("u1", "o1")
    plan_together(ingest, [earlier, order("u2", "o2")])
    later = [order("v1", "o1"), order("v2", "o9")]  # o1 started from another event before
    plans = dict(plan_together(ingest, later))
    assert plans[later[0].id].skipped == 1 and not plans[later[0].id].starts
    assert len(plans[later[1].id].starts) == 1
    decided = {row.event_id: row for row in ingest.decisions(trigger)}
    assert decided[later[0].id].reason == (
        f"dedupe key 'o1' already started {decided[earlier.id].temporal_workflow_id}"
    )


async def test_shared_users_and_dedupe_values_end_as_one_at_a_time(stack: IngestStack) -> None:
    ingest = stack
    trigger = ingest.trigger(
        ingest.journey(),
        event_type="order.placed",
        create_profile=True,
        dedupe_key="event.properties.order",
    )
    firsts = [order(f"u{i}", f"o{i}") for i in range(12)]
    again = order("u0", "o0")  # the same user and order: a duplicate start
    other = order("v1", "o1")  # another user, u1's order: the dedupe value started already
    fresh = order("u3", "o-new")  # u3's second order: a run of its own
    ingest.produce([*firsts, again, other, fresh])
    async with ingest.consumer() as consumer:
        await ingest.handled(consumer, 15)
    assert consumer.tally.together >= 2  # the batch path took part
    decided = {row.event_id: row for row in ingest.decisions(trigger)}
    assert len(decided) == 15
    started = {event_id for event_id, row in decided.items() if row.decision == "started"}
    # u1 and v1 are keys of (possibly) different partitions, and Kafka orders only within one:
    # whichever of the two o1 orders came first starts, the other is skipped as a duplicate.
    rivals = {firsts[1].id, other.id}
    assert len(started & rivals) == 1
    (lost,) = rivals - started
    assert decided[lost].decision == "skipped"
    assert (
        decided[lost].reason is not None
        and "dedupe key 'o1' already started" in decided[lost].reason
    )
    assert started - rivals == {e.id for e in [*firsts, fresh]} - rivals
    assert decided[again.id].decision == "skipped"
    assert len(set(ingest.started_ids())) == 13
    assert ingest.count(LifecycleEvent) == 15


async def test_an_event_reaches_the_open_runs_of_its_user(ingest: IngestStack) -> None:
    journey = ingest.journey(json.loads((EXAMPLES / "abandoned_cart.json").read_text()))
    trigger = ingest.trigger(
        journey, event_type="cart.abandoned", dedupe_key="event.properties.cart_id"
    )
    users = [f"c{i}" for i in range(6)]
    for user in users:
        ingest.user(user, email=f"{user}@example.com")
    cart = {user: {"cart_id": f"cart-{user}", "item_count": 1} for user in users}
    abandoned = [
        EventEnvelope(type="cart.abandoned", user_id=user, properties=cart[user]) for user in users
    ]
    ingest.produce(abandoned)
    async with ingest.consumer() as consumer:
        await ingest.handled(consumer, 6)
    runs = {row.user_id: row.temporal_workflow_id for row in ingest.decisions(trigger)}
    assert set(runs) == set(users)
    # Now every user's purchase, in one batch again: each wakes that user's waiting run.
    ingest.produce(
        [
            EventEnvelope(
                type="order.completed", user_id=user, properties={"cart_id": f"cart-{user}"}
            )
            for user in users
        ]
    )
    async with ingest.consumer() as consumer:
        await ingest.handled(consumer, 6)
    assert consumer.tally.together >= 2 and consumer.tally.signalled == 6
    client = ingest.env.temporal_client
    for user in users:
        handle = client.get_workflow_handle(str(runs[user]), result_type=JourneyResult)
        assert (await handle.result()).outcome == "purchased"
        assert (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED


async def test_if_not_running_triggers_wait_for_temporal_outside_the_batch_path(
    ingest_starts: IngestStack,
) -> None:
    ingest = ingest_starts
    trigger = ingest.trigger(
        ingest.journey(), event_type="order.placed", create_profile=True, reentry="if_not_running"
    )
    sent = [order(f"w{i}", f"x{i}") for i in range(5)]
    ingest.produce(sent)
    async with ingest.consumer() as consumer:
        await ingest.handled(consumer, 5)
    assert consumer.tally.together == 0
    assert {row.decision for row in ingest.decisions(trigger)} == {"started"}

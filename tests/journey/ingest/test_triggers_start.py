"""Events start the journeys whose triggers match, once per trigger, user and dedupe key."""

from __future__ import annotations

from dsl.events import EventEnvelope
from journey.db.models import LifecycleEvent, User, WorkflowExecution
from tests.journey.ingest.conftest import IngestStack
from workflows.ids import trigger_workflow_id


async def test_a_matching_event_starts_the_journey_and_the_run_completes(
    ingest: IngestStack,
) -> None:
    journey = ingest.journey()
    trigger = ingest.trigger(
        journey, conditions={"field": "event.properties.plan", "op": "eq", "value": "pro"},
        create_profile=True,
    )  # fmt: skip
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

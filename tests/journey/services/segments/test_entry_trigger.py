"""End to end: a user who enters a segment starts a journey through a `segment.entered`
trigger, by way of the refresh workflow, the events topic and the real ingest consumer."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest_asyncio
from sqlmodel import select

from journey.contracts.segments import SegmentRefreshInput
from journey.core.db.models import User, WorkflowExecution
from journey.services.segments import service
from journey.services.segments.rules import parse_condition
from tests.harness.env import JourneyEnv
from tests.journey.ingest.conftest import IngestStack, ingest_stack
from workflows.segments import SegmentRefreshWorkflow


@pytest_asyncio.fixture
async def ingest(journey_env: JourneyEnv) -> AsyncIterator[IngestStack]:
    """Fresh topics, the journey_env SQLite database, a worker with every workflow."""
    async with ingest_stack(journey_env) as stack:
        yield stack


async def test_entering_a_segment_starts_the_journey(ingest: IngestStack) -> None:
    with ingest.sessions() as session:
        session.add(User(id="ann", attributes={"plan": "pro"}))
        session.add(User(id="bob", attributes={"plan": "free"}))
        session.commit()
        pro = parse_condition({"field": "user.attributes.plan", "op": "eq", "value": "pro"})
        segment = service.create_segment(
            session, name="Pro", description=None, definition=service.Definition(pro)
        )
    journey = ingest.journey()
    trigger = ingest.trigger(
        journey,
        event_type="segment.entered",
        conditions={"field": "event.properties.segment_id", "op": "eq", "value": str(segment.id)},
    )
    # Its own journey: two triggers of one journey trip the consumer's trigger cache today
    # (journey/ingest/trigger_cache.py expunges the shared Workflow row twice).
    other = ingest.trigger(
        ingest.journey(),
        event_type="segment.entered",
        conditions={"field": "event.properties.segment_id", "op": "eq", "value": "elsewhere"},
    )
    async with ingest.consumer() as consumer:
        await ingest.env.temporal_client.execute_workflow(
            SegmentRefreshWorkflow.run,
            SegmentRefreshInput(),
            id=f"segment-refresh-{uuid.uuid4().hex[:8]}",
            task_queue=ingest.settings.temporal_task_queue,
        )
        await ingest.handled(consumer, 1)
        await ingest.wait_for(
            lambda: ingest.count(WorkflowExecution, WorkflowExecution.status == "completed") == 1,
            "the journey run to complete",
        )
    [decision] = ingest.decisions(trigger)
    assert (decision.decision, decision.user_id) == ("started", "ann")
    assert [d.decision for d in ingest.decisions(other)] == ["not_matched"]
    with ingest.sessions() as session:
        [run] = session.exec(select(WorkflowExecution)).all()
    assert (run.user_id, run.status) == ("ann", "completed")

"""Runs mirror their end into `workflow_executions` themselves, whoever started them."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from typing import Any

from sqlmodel import select
from temporalio.client import WorkflowFailureError, WorkflowHandle

from journey.contracts.executions import RECORD_EXECUTION_OUTCOME
from journey.contracts.runs import JourneyInput
from journey.core.db.models import Workflow, WorkflowExecution
from tests.workflows.conftest import JourneyRunner, snapshot
from workflows.journey import JourneyWorkflow


def row_of(runner: JourneyRunner, workflow_id: str) -> WorkflowExecution | None:
    with runner.sessions() as session:
        query = select(WorkflowExecution).where(
            WorkflowExecution.temporal_workflow_id == workflow_id
        )
        return session.exec(query).first()


async def mirrored(runner: JourneyRunner, workflow_id: str) -> WorkflowExecution | None:
    for _ in range(50):  # a hang guard
        row = row_of(runner, workflow_id)
        if row is not None and row.status != "running":
            return row
        await asyncio.sleep(0.1)
    return None


async def mirror_answers(handle: WorkflowHandle[Any, Any]) -> list[Any]:
    """What the run's end-of-run mirror step answered (`record_execution_outcome`: True for a
    row written, False for a run that cannot have one), from its local-activity markers."""
    answers = []
    for event in (await handle.fetch_history()).events:
        marker = event.marker_recorded_event_attributes
        if not event.HasField("marker_recorded_event_attributes") or "data" not in marker.details:
            continue
        data = json.loads(marker.details["data"].payloads[0].data)
        if data.get("activity_type") == RECORD_EXECUTION_OUTCOME:
            failed = marker.HasField("failure")
            result = None if failed else json.loads(marker.details["result"].payloads[0].data)
            answers.append(f"failed: {marker.failure.message}" if failed else result)
    return answers


async def run_stored(runner: JourneyRunner, document: dict[str, Any]) -> str:
    """Start a stored journey straight through the Temporal client, as a trigger would."""
    with runner.sessions() as session:
        row = Workflow(name=document["name"], definition=document, status="active")
        session.add(row)
        session.commit()
        journey_id = str(row.id)
    journey = snapshot(document, journey_id=journey_id)
    workflow_id = f"journey-direct-{uuid.uuid4().hex[:8]}"
    handle = await runner.client.start_workflow(
        JourneyWorkflow.run,
        JourneyInput(journey=journey, user_id="u1"),
        id=workflow_id,
        task_queue=runner.task_queue,
    )
    with contextlib.suppress(WorkflowFailureError):
        await handle.result()
    return workflow_id


async def test_a_run_started_outside_the_api_gets_a_row(journey_runner: JourneyRunner) -> None:
    journey_runner.seed_user("u1")
    document = {
        "name": "direct",
        "start": "done",
        "nodes": [{"id": "done", "type": "end", "outcome": "finished"}],
    }
    row = await mirrored(journey_runner, await run_stored(journey_runner, document))
    assert row is not None
    assert (row.status, row.outcome, row.user_id) == ("completed", "finished", "u1")
    assert row.completed_at is not None and row.temporal_run_id


async def test_a_failing_run_is_mirrored_as_failed(journey_runner: JourneyRunner) -> None:
    journey_runner.seed_user("u1")
    receiver = journey_runner.env.http_receiver
    receiver.respond("/gone", status=404)
    document = {
        "name": "failing",
        "start": "call",
        "nodes": [
            {"id": "call", "type": "webhook", "url": receiver.url("/gone"), "next": "ok"},
            {"id": "ok", "type": "end"},
        ],
    }
    row = await mirrored(journey_runner, await run_stored(journey_runner, document))
    assert row is not None and row.status == "failed"
    assert row.error_message and "node call (webhook) failed" in row.error_message


async def test_ad_hoc_journey_ids_end_without_a_row(journey_runner: JourneyRunner) -> None:
    journey_runner.seed_user("u1")
    document = {"name": "adhoc", "start": "done", "nodes": [{"id": "done", "type": "end"}]}
    handle = await journey_runner.start(document, workflow_id=f"journey-adhoc-{uuid.uuid4().hex}")
    assert (await handle.result()).outcome == "completed"
    # The run mirrors its end before it returns its result, so the mirror has answered by
    # now: with False (no row, by design), not with a failure that also leaves no row.
    assert await mirror_answers(handle) == [False]
    assert row_of(journey_runner, handle.id) is None

"""What an operator sees in the Temporal UI: readable ids, search attributes, the current
details text and activity summaries named by node id."""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio.api.sdk.v1 import WorkflowMetadata

from journey.contracts import search_attributes as sa
from journey.contracts.ids import journey_workflow_id
from journey.contracts.runs import JourneyState
from tests.workflows.conftest import JourneyRunner

WAITING = {
    "name": "Waits for activation",
    "start": "to_activation",
    "nodes": [
        {
            "id": "to_activation",
            "type": "lifecycle_transition",
            "stage": "Activation",
            "next": "wait",
        },
        {
            "id": "wait",
            "type": "wait_for_event",
            "event_type": "activated",
            "timeout": "P3D",
            "on_event": "done",
            "on_timeout": "done",
        },
        {"id": "done", "type": "end"},
    ],
}


async def current_details(handle: Any) -> str:
    metadata = await handle.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
    return str(metadata.current_details)


def test_workflow_ids_are_readable_and_safe() -> None:
    assert journey_workflow_id("j1", "u1", "evt-9") == "journey-j1-u1-evt-9"
    # A replaced character keeps the id readable and adds a digest of the exact parts.
    made = journey_workflow_id("j1", "a b/c", "k")
    assert made.startswith("journey-j1-a_b_c-k-")
    assert made != journey_workflow_id("j1", "a_b_c", "k")


async def test_a_waiting_run_is_findable_and_says_what_it_waits_for(
    journey_runner: JourneyRunner,
) -> None:
    journey_runner.seed_user("u1")
    handle = await journey_runner.start(
        WAITING, workflow_id=journey_workflow_id("j-test", "u1", "k1")
    )
    for _ in range(200):
        state = await handle.query("state", result_type=JourneyState)
        if state.waiting_for:
            break
        await asyncio.sleep(0.05)
    details = await current_details(handle)
    assert details.startswith("Waits for activation: at wait; waiting for event activated")

    attributes = (await handle.describe()).typed_search_attributes
    assert attributes.get(sa.JOURNEY_ID) == "j-test"
    assert attributes.get(sa.JOURNEY_VERSION) == "1.0.0"
    assert attributes.get(sa.USER_ID) == "u1"
    assert attributes.get(sa.CURRENT_NODE) == "wait"
    assert attributes.get(sa.LIFECYCLE_STAGE) == "Activation"

    query = f'JourneyUserId = "u1" AND JourneyCurrentNode = "wait" AND WorkflowId = "{handle.id}"'
    for _ in range(100):  # visibility is eventually consistent
        found = [run.id async for run in journey_runner.client.list_workflows(query)]
        if found:
            break
        await asyncio.sleep(0.1)
    assert found == [handle.id]

    await handle.signal("event", {"id": "e1", "type": "activated", "user_id": "u1"})
    assert (await handle.result()).outcome == "completed"
    assert (await current_details(handle)).endswith("finished, outcome completed")

    history = await handle.fetch_history()
    # Activities and local activities (their markers) alike are named by node id.
    summaries = [
        e.user_metadata.summary.data
        for e in history.events
        if e.HasField("user_metadata")
        and (
            e.HasField("activity_task_scheduled_event_attributes")
            or e.HasField("marker_recorded_event_attributes")
        )
    ]
    assert b"to_activation: lifecycle_transition" in b" ".join(summaries)

"""Lean runs (workflows/patches.py): one patch marker, database steps as local activities, and
search attributes sent where the run blocks, not once per node."""

from __future__ import annotations

from collections import Counter
from typing import Any

from temporalio.api.history.v1 import HistoryEvent

from journey.contracts import search_attributes as sa
from tests.workflows.conftest import JourneyRunner
from workflows.patches import LEAN_HISTORY

# Two nodes the run only passes through (condition, update_attributes), one where it waits
# for a timer, then a lifecycle change and the end.
PASSING_THROUGH = {
    "name": "passes through",
    "start": "check",
    "nodes": [
        {
            "id": "check",
            "type": "condition",
            "default": "tag",
            "branches": [
                {
                    "when": {"field": "user.attributes.plan", "op": "eq", "value": "pro"},
                    "next": "tag",
                }
            ],
        },
        {
            "id": "tag",
            "type": "update_attributes",
            "next": "pause",
            "operations": [{"op": "increment", "path": "visits", "by": 1}],
        },
        {"id": "pause", "type": "delay", "duration": "PT1S", "next": "promote"},
        {"id": "promote", "type": "lifecycle_transition", "stage": "Activation", "next": "done"},
        {"id": "done", "type": "end"},
    ],
}


def _kinds(events: list[HistoryEvent]) -> Counter[str]:
    return Counter(str(e.WhichOneof("attributes")) for e in events)


def _shown(events: list[HistoryEvent], name: str) -> list[str]:
    values = []
    for event in events:
        if not event.HasField("upsert_workflow_search_attributes_event_attributes"):
            continue
        fields = event.upsert_workflow_search_attributes_event_attributes.search_attributes
        if name in fields.indexed_fields:
            values.append(fields.indexed_fields[name].data.decode().strip('"'))
    return values


def _patch_ids(events: list[HistoryEvent]) -> list[str]:
    ids = []
    for event in events:
        marker = event.marker_recorded_event_attributes
        if (
            event.HasField("marker_recorded_event_attributes")
            and marker.marker_name == "core_patch"
        ):
            ids.append(marker.details["patch-data"].payloads[0].data.decode())
    return ids


async def test_a_lean_run_records_one_patch_and_local_database_steps(
    journey_runner: JourneyRunner,
) -> None:
    journey_runner.seed_user("u1", attributes={"plan": "pro"})
    handle = await journey_runner.start(PASSING_THROUGH)
    assert (await handle.result()).outcome == "completed"
    events: list[Any] = list((await handle.fetch_history()).events)

    patches = _patch_ids(events)
    assert len(patches) == 1 and LEAN_HISTORY in patches[0]
    kinds = _kinds(events)
    # load_user (at the start and after the delay), update_attributes, lifecycle_transition
    # and the end-of-run mirror: no activity task goes through the server.
    assert kinds["activity_task_scheduled_event_attributes"] == 0
    assert kinds["marker_recorded_event_attributes"] == 1 + 5
    assert journey_runner.user("u1").attributes == {"plan": "pro", "visits": 1}
    assert journey_runner.user("u1").current_lifecycle_stage == "Activation"

    # The position is shown where the run waited (the delay) and where it ended; the nodes it
    # only passed through never were.
    assert _shown(events, sa.CURRENT_NODE.name) == ["pause", "done"]
    assert _shown(events, sa.LIFECYCLE_STAGE.name) == ["Acquisition", "Activation"]
    described = (await handle.describe()).typed_search_attributes
    assert described.get(sa.CURRENT_NODE) == "done"
    assert described.get(sa.LIFECYCLE_STAGE) == "Activation"

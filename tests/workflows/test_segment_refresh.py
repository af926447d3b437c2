"""SegmentRefreshWorkflow on the Temporal dev server, a real broker and both databases: users
who start matching get `segment.entered`, users who stop get `segment.exited`, unchanged users
get nothing, and the cache follows. Event ids come from the run and the step."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest_asyncio
from sqlmodel import col, select

from journey.contracts.segments import SegmentRefreshInput, SegmentRefreshResult
from journey.core.config import Settings
from journey.core.db.models import User, UserSegment, UserSegmentMembership
from journey.services.segments import refresh, service
from journey.services.segments.jobs import SEGMENT_REFRESH
from journey.services.segments.rules import parse_condition
from tests.harness.env import JourneyEnv
from tests.journey.ingest.conftest import IngestStack, ingest_stack
from tests.journey.services.segments.topics import read_all
from worker import SCHEDULED_JOBS
from workflows.segments import SegmentRefreshWorkflow

PRO = {"field": "user.attributes.plan", "op": "eq", "value": "pro"}


@pytest_asyncio.fixture
async def stack(journey_env: JourneyEnv, migrated_database_url: str) -> AsyncIterator[IngestStack]:
    """A worker (every workflow and activity) on a fresh single-partition events topic, on
    SQLite and PostgreSQL; one user per step, so two changes take two steps."""
    async with ingest_stack(
        journey_env,
        migrated_database_url,
        kafka_topic_partitions=1,
        segment_refresh_batch_size=1,
        segment_membership_ttl_seconds=3600,
    ) as running:
        yield running


def make_segment(stack: IngestStack, name: str, condition: dict[str, Any]) -> UserSegment:
    with stack.sessions() as session:
        definition = service.Definition(parse_condition(condition))
        return service.create_segment(session, name=name, description=None, definition=definition)


def set_plan(stack: IngestStack, user_id: str, plan: str) -> None:
    with stack.sessions() as session:
        user = session.get(User, user_id) or User(id=user_id)
        user.attributes = {"plan": plan}
        session.add(user)
        session.commit()


async def run_refresh(
    stack: IngestStack, request: SegmentRefreshInput | None = None
) -> tuple[SegmentRefreshResult, str]:
    handle = await stack.env.temporal_client.start_workflow(
        SegmentRefreshWorkflow.run,
        request or SegmentRefreshInput(),
        id=f"segment-refresh-{uuid.uuid4().hex[:8]}",
        task_queue=stack.settings.temporal_task_queue,
    )
    result = await handle.result()
    return result, str(handle.first_execution_run_id)


def cache(stack: IngestStack, segment: UserSegment) -> list[UserSegmentMembership]:
    with stack.sessions() as session:
        query = select(UserSegmentMembership).where(
            col(UserSegmentMembership.segment_id) == segment.id
        )
        return list(session.exec(query.order_by(col(UserSegmentMembership.user_id))).all())


async def test_refresh_emits_entries_and_exits_and_keeps_the_cache(stack: IngestStack) -> None:
    for user_id, plan in (("ann", "pro"), ("bob", "pro"), ("cat", "free")):
        set_plan(stack, user_id, plan)
    segment = make_segment(stack, "Pro", PRO)

    first, run_key = await run_refresh(stack)
    assert first == SegmentRefreshResult(refreshed=1, entered=2, exited=0)
    events = read_all(stack.settings)
    assert [(m.key, m.value["type"], m.value["user_id"]) for m in events] == [
        ("ann", "segment.entered", "ann"),
        ("bob", "segment.entered", "bob"),
    ]
    # One user per step: ann in step 0, bob in step 1; ids a retry would publish again.
    assert [m.value["id"] for m in events] == [
        refresh.event_id(
            "segment.entered",
            segment_id=str(segment.id),
            user_id=user,
            event_key=f"{run_key}/{step}",
        )
        for step, user in enumerate(("ann", "bob"))
    ]
    assert events[0].value["properties"] == {"segment_id": str(segment.id), "segment_name": "Pro"}
    rows = cache(stack, segment)
    assert [row.user_id for row in rows] == ["ann", "bob"]
    assert all(row.valid_until == row.evaluated_at + timedelta(hours=1) for row in rows)

    set_plan(stack, "bob", "free")  # stops matching
    set_plan(stack, "cat", "pro")  # starts matching; ann is unchanged
    second, _ = await run_refresh(stack)
    assert second == SegmentRefreshResult(refreshed=1, entered=1, exited=1)
    new = read_all(stack.settings)[len(events) :]
    assert sorted((m.value["type"], m.value["user_id"]) for m in new) == [
        ("segment.entered", "cat"),
        ("segment.exited", "bob"),
    ]
    renewed = cache(stack, segment)
    assert [row.user_id for row in renewed] == ["ann", "cat"]
    assert renewed[0].valid_until is not None and rows[0].valid_until is not None
    assert renewed[0].valid_until > rows[0].valid_until  # ann's row was renewed
    assert renewed[0].evaluated_at == rows[0].evaluated_at  # ...and still says when she entered

    third, _ = await run_refresh(stack)  # nothing changed: no event at all
    assert third == SegmentRefreshResult(refreshed=1, entered=0, exited=0)
    assert len(read_all(stack.settings)) == len(events) + len(new)


async def test_refresh_can_be_limited_to_some_segments(stack: IngestStack) -> None:
    set_plan(stack, "ann", "pro")
    wanted = make_segment(stack, "Pro", PRO)
    make_segment(stack, "Everyone", {"field": "user.id", "op": "exists"})
    result, _ = await run_refresh(stack, SegmentRefreshInput(segment_ids=[str(wanted.id)]))
    assert result == SegmentRefreshResult(refreshed=1, entered=1, exited=0)
    assert [m.value["properties"]["segment_name"] for m in read_all(stack.settings)] == ["Pro"]


def test_the_schedule_runs_this_workflow() -> None:
    assert SEGMENT_REFRESH in SCHEDULED_JOBS
    assert SEGMENT_REFRESH.workflow == "journey.SegmentRefresh"
    assert SEGMENT_REFRESH.make_input(Settings.model_construct()) == SegmentRefreshInput()

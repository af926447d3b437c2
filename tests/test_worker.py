"""The worker registers Journey's workflows and activities, and they reach the database."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select
from temporalio.client import Client

from activities.stack_check import STACK_CHECK_EVENT
from journey.contracts.maintenance import StackCheckInput
from journey.core.db.engine import make_session_factory
from journey.core.db.models import LifecycleEvent
from journey.core.temporal.schedules import check_unique
from tests.harness.env import JourneyEnv
from worker import SCHEDULED_JOBS, WORKFLOWS, journey_worker
from workflows.stack_check import StackCheckWorkflow


async def test_stack_check_runs_on_the_worker_and_writes_an_audit_row(
    journey_env: JourneyEnv, temporal_client: Client, task_queue: str, migrated_engine: Engine
) -> None:
    sessions = make_session_factory(migrated_engine)
    async with journey_worker(temporal_client, journey_env.settings, sessions):
        result = await temporal_client.execute_workflow(
            StackCheckWorkflow.run,
            StackCheckInput(check_id="c-1"),
            id=f"stack-check-{task_queue}",
            task_queue=task_queue,
        )
    assert result.check_id == "c-1"
    assert result.attempt == 1
    with Session(migrated_engine) as session:
        row = session.exec(
            select(LifecycleEvent).where(LifecycleEvent.id == result.audit_row_id)
        ).one()
    assert row.event_type == STACK_CHECK_EVENT
    assert row.event_data["workflow_id"] == f"stack-check-{task_queue}"


def test_every_registered_workflow_is_a_temporal_workflow() -> None:
    from temporalio.workflow import _Definition

    names = [_Definition.must_from_class(cls).name for cls in WORKFLOWS]
    assert {"journey.Journey", "journey.StackCheck"} <= set(names)
    assert len(set(names)) == len(names)
    # Every Schedule starts a workflow this worker runs.
    assert SCHEDULED_JOBS
    assert {job.workflow for job in SCHEDULED_JOBS} <= set(names)


def test_a_schedule_listed_twice_is_refused() -> None:
    check_unique(SCHEDULED_JOBS)
    with pytest.raises(ValueError, match="listed twice: segment-refresh"):
        check_unique([*SCHEDULED_JOBS, SCHEDULED_JOBS[0]])

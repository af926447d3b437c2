"""The stand-ins cover every activity a run may call, and anything else fails loudly.

The worker's full activity list is the reference: each activity it registers is either stood
in for, or named here as one a journey run never calls. A new activity added to the worker
therefore fails this test until someone decides which it is.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from confluent_kafka import Producer
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.testing import WorkflowEnvironment

from activities.registry import activity_name
from journey.contracts.actions import ACTION_ACTIVITY_NAMES
from journey.core.config import Settings
from journey.simulation.models import SimulatedUser
from journey.simulation.stand_ins import (
    JOURNEY_RUN_ACTIVITIES,
    UNKNOWN_ACTIVITY,
    MissingStandIn,
    Recorder,
    check_stand_ins,
    unknown_activity,
)
from tests.harness.env import build_settings
from tests.harness.temporal import running_worker
from tests.journey.simulation.unknown_activity_workflow import NEW_ACTIVITY, CallsSomethingNew
from worker import build_activities

# Registered by the worker for its scheduled jobs and the dev stack's check, never by a run.
NOT_CALLED_BY_RUNS = {
    "record_stack_check",
    "journey.rollup_metrics_day",
    "journey.ensure_partitions",
    "journey.purge_expired",
    "journey.list_segments",
    "journey.segment_changes",
    "journey.apply_segment_changes",
    "journey.publish_segment_events",
    "journey.renew_segment_memberships",
}


def settings(tmp_path: Path) -> Settings:
    return build_settings(
        data_dir=tmp_path,
        temporal_address="127.0.0.1:9",
        task_queue="unused",
        kafka_bootstrap="127.0.0.1:9",
        smtp_host="127.0.0.1",
        smtp_port=9,
    )


async def test_every_worker_activity_is_stood_in_for_or_never_called_by_runs(
    tmp_path: Path,
) -> None:
    recorder = Recorder(settings(tmp_path), SimulatedUser())
    try:
        stand_ins = {activity_name(fn) for fn in recorder.activities()}
    finally:
        await recorder.aclose()
    assert stand_ins == set(JOURNEY_RUN_ACTIVITIES)
    assert set(ACTION_ACTIVITY_NAMES) <= stand_ins

    producer = Producer({"bootstrap.servers": "127.0.0.1:9"})
    registered = {
        activity_name(fn)
        for fn in build_activities(
            settings=settings(tmp_path),
            session_factory=sessionmaker(class_=Session),
            http=None,
            producer=producer,  # type: ignore[arg-type]
        )
    }
    assert registered - stand_ins == NOT_CALLED_BY_RUNS


def test_a_contract_activity_without_a_stand_in_stops_the_simulation() -> None:
    with pytest.raises(MissingStandIn, match=r"journey\.new_action"):
        check_stand_ins(
            list(JOURNEY_RUN_ACTIVITIES), [*JOURNEY_RUN_ACTIVITIES, "journey.new_action"]
        )
    with pytest.raises(MissingStandIn, match="twice"):
        check_stand_ins([*JOURNEY_RUN_ACTIVITIES, JOURNEY_RUN_ACTIVITIES[0]])


async def test_an_activity_without_a_stand_in_fails_at_once_by_name(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    async with running_worker(
        time_skipping_env.client,
        task_queue,
        workflows=[CallsSomethingNew],
        activities=[unknown_activity],
    ):
        with pytest.raises(WorkflowFailureError) as failure:
            await time_skipping_env.client.execute_workflow(
                CallsSomethingNew.run, id=f"wf-{task_queue}", task_queue=task_queue
            )
    cause = failure.value.cause
    assert isinstance(cause, ActivityError)
    inner = cause.cause
    assert isinstance(inner, ApplicationError)
    assert inner.type == UNKNOWN_ACTIVITY and inner.non_retryable
    assert NEW_ACTIVITY in inner.message

"""The scheduled jobs and the run outcome on a real worker (Temporal dev server, SQLite).

A journey run records its per-node counts, split variant and goal at its end; the rollup and
maintenance workflows run their activities; both jobs are registered for `journey worker`.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest_asyncio
from sqlmodel import col, func, select

from dsl.nodes.split import Variant, choose_variant
from journey.contracts.runs import JourneyInput
from journey.core.db.engine import SessionFactory, create_db_engine, make_session_factory
from journey.core.db.models import (
    DailyMetric,
    LifecycleEvent,
    User,
    Workflow,
    WorkflowExecution,
    WorkflowExecutionNode,
)
from journey.core.kafka.clients import ensure_topics
from journey.services.metrics.jobs import MAINTENANCE_JOB, ROLLUP_JOB
from tests.harness.env import JourneyEnv
from tests.journey.services.metrics.data import Data
from tests.workflows.conftest import snapshot
from worker import SCHEDULED_JOBS, journey_worker
from workflows.journey import JourneyWorkflow
from workflows.maintenance import (
    MaintenanceInput,
    MaintenanceWorkflow,
    MetricsRollupInput,
    MetricsRollupWorkflow,
    RetentionDays,
)

VARIANTS = [
    {"name": "A", "weight": 1, "next": "upgrade"},
    {"name": "B", "weight": 1, "next": "fail"},
]
AB = {
    "name": "ab",
    "start": "split",
    "goal": {"field": "user.attributes.plan", "op": "eq", "value": "pro"},
    "nodes": [
        {"id": "split", "type": "split", "variants": VARIANTS},
        {
            "id": "upgrade",
            "type": "update_attributes",
            "operations": [{"op": "set", "path": "plan", "value": "pro"}],
            "next": "done",
        },
        # Refused by the SSRF guard (link-local), at once and for good: on to `on_error`.
        {
            "id": "fail",
            "type": "webhook",
            "url": "http://169.254.169.254/gone",
            "next": "done",
            "on_error": "done",
        },
        {"id": "done", "type": "end", "outcome": "finished"},
    ],
}


@dataclass
class Stack:
    env: JourneyEnv
    sessions: SessionFactory

    async def execute(self, workflow: Any, argument: Any) -> Any:
        return await self.env.temporal_client.execute_workflow(
            workflow,
            argument,
            id=f"test-{uuid.uuid4().hex[:12]}",
            task_queue=self.env.settings.temporal_task_queue,
        )


@pytest_asyncio.fixture
async def stack(journey_env: JourneyEnv) -> AsyncIterator[Stack]:
    ensure_topics(journey_env.settings)
    engine = create_db_engine(journey_env.settings.resolved_database_url)
    sessions = make_session_factory(engine)
    try:
        async with journey_worker(journey_env.temporal_client, journey_env.settings, sessions):
            yield Stack(journey_env, sessions)
    finally:
        engine.dispose()


def user_for(variant: str) -> str:
    """A user id the split sends to `variant` (the split is a pure function of the id)."""
    options = [Variant.model_validate(v) for v in VARIANTS]
    return next(
        f"user-{n}"
        for n in range(100)
        if choose_variant(options, f"user-{n}", "split").name == variant
    )


async def recorded(stack: Stack, workflow_id: str) -> WorkflowExecution:
    for _ in range(100):  # the run mirrors its end itself, just after its result
        with stack.sessions() as session:
            row = session.exec(
                select(WorkflowExecution).where(
                    WorkflowExecution.temporal_workflow_id == workflow_id
                )
            ).first()
        if row is not None and row.status != "running":
            return row
        await asyncio.sleep(0.1)
    raise AssertionError(f"{workflow_id} was not mirrored")


async def test_a_run_records_its_nodes_variant_and_goal(stack: Stack) -> None:
    with stack.sessions() as session:
        journey = Workflow(name="ab", definition=AB, status="active")
        session.add_all([journey, User(id=user_for("A")), User(id=user_for("B"))])
        session.commit()
    outcomes = {}
    for variant in ("A", "B"):
        workflow_id = f"journey-metrics-{uuid.uuid4().hex[:8]}"
        request = JourneyInput(
            journey=snapshot(AB, journey_id=str(journey.id)), user_id=user_for(variant)
        )
        await stack.env.temporal_client.execute_workflow(
            JourneyWorkflow.run,
            request,
            id=workflow_id,
            task_queue=stack.env.settings.temporal_task_queue,
        )
        row = await recorded(stack, workflow_id)
        with stack.sessions() as session:
            nodes = session.exec(
                select(WorkflowExecutionNode)
                .where(WorkflowExecutionNode.execution_id == row.id)
                .order_by(col(WorkflowExecutionNode.node_id))
            ).all()
        outcomes[variant] = (
            row.goal_reached,
            [(n.node_id, n.node_type, n.entered, n.completed, n.failed, n.variant) for n in nodes],
        )
    assert outcomes["A"] == (
        True,
        [
            ("done", "end", 1, 1, 0, None),
            ("split", "split", 1, 1, 0, "A"),
            ("upgrade", "update_attributes", 1, 1, 0, None),
        ],
    )
    assert outcomes["B"] == (
        False,
        [
            ("done", "end", 1, 1, 0, None),
            ("fail", "webhook", 1, 0, 1, None),
            ("split", "split", 1, 1, 0, "B"),
        ],
    )


async def test_the_rollup_workflow_rolls_up_the_days_asked_for(stack: Stack) -> None:
    with stack.sessions() as session:
        data = Data(session)
        data.user("a", "2026-03-10 08:00")
        data.event("a", "login", "2026-03-10 09:00")
        session.commit()
    results = await stack.execute(
        MetricsRollupWorkflow.run, MetricsRollupInput(day=date(2026, 3, 10))
    )
    assert [(r.day, r.rows) for r in results] == [(date(2026, 3, 10), 11)]  # 5 + 5 stages, 1 event
    yesterday = await stack.execute(MetricsRollupWorkflow.run, MetricsRollupInput(days=2))
    today = datetime.now(UTC).date()
    assert [r.day for r in yesterday] in (
        [today - timedelta(days=2), today - timedelta(days=1)],
        [today - timedelta(days=1), today],  # the server's clock passed midnight meanwhile
    )
    with stack.sessions() as session:
        events = session.exec(
            select(DailyMetric.metric_value).where(
                DailyMetric.metric_name == "events", DailyMetric.metric_date == date(2026, 3, 10)
            )
        ).all()
    assert events == [1]


async def test_the_maintenance_workflow_purges_by_policy(stack: Stack) -> None:
    with stack.sessions() as session:
        data = Data(session)
        data.user("a", "2020-01-01")
        data.event("a", "login", "2020-01-01")
        data.event("a", "login", (date.today() - timedelta(days=5)).isoformat())
        session.commit()
    policy = [RetentionDays(table="lifecycle_events", days=30)]
    result = await stack.execute(
        MaintenanceWorkflow.run, MaintenanceInput(retention=policy, batch_size=1)
    )
    assert result.purged == {"lifecycle_events": 1}
    assert result.created_partitions == [] and result.dropped_partitions == []  # SQLite
    with stack.sessions() as session:
        assert session.exec(select(func.count()).select_from(LifecycleEvent)).one() == 1


def test_both_jobs_are_registered_with_the_settings(journey_env: JourneyEnv) -> None:
    assert {ROLLUP_JOB.name, MAINTENANCE_JOB.name} <= {job.name for job in SCHEDULED_JOBS}
    settings = journey_env.settings.model_copy(
        update={"retention_trigger_executions_days": 7, "partition_months_ahead": 5}
    )
    maintenance = MAINTENANCE_JOB.make_input(settings)
    assert [(p.table, p.days) for p in maintenance.retention] == [
        ("trigger_executions", 7),
        ("workflow_executions", 365),
        ("lifecycle_events", 730),
        ("ingested_events", 730),
        ("metrics_daily", 1095),
    ]
    assert maintenance.months_ahead == 5
    assert ROLLUP_JOB.make_input(settings).days == settings.metrics_rollup_days

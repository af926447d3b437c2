"""The retention purge on both databases: what goes, what stays, references, batches.

Cutoff 2026-01-01 00:00 for every table. Rows (kept ones marked +):

- trigger_executions: executed 2025-12-31 (pointing at run r_old), + 2026-01-02
- workflow_executions: r_old completed 2025-06-01 (with a node row), + r_open running since
  2024-01-01, + r_recent completed 2026-01-05
- lifecycle_events: 2024-05-01, 2025-12-31 23:59:59, + 2026-01-01 00:00 (the cutoff itself),
  + 2026-02-01 pointing at r_old (kept, reference cleared)
- ingested_events: received 2025-01-01, + 2026-06-01
- metrics_daily: 2025-12-31, + 2026-01-01
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, SQLModel, select
from temporalio.testing import ActivityEnvironment

from activities.metrics import MetricsActivities
from journey.contracts.maintenance import PurgeInput, PurgeResult
from journey.core.db.models import (
    DailyMetric,
    IngestedEvent,
    LifecycleEvent,
    Trigger,
    TriggerExecution,
    WorkflowExecution,
    WorkflowExecutionNode,
)
from journey.services.metrics.partitions import ensure_partitions, is_partitioned
from journey.services.metrics.retention import RETENTION_ORDER
from tests.journey.services.metrics.data import Data, at

CUTOFF = at("2026-01-01")


@pytest.fixture
def seeded(session_factory: sessionmaker[Session]) -> dict[str, Any]:
    with session_factory() as session:
        data = Data(session)
        data.user("u1", "2024-01-01")
        journey = data.journey()
        r_old = data.run(
            journey,
            "u1",
            "completed",
            "2025-05-31",
            "2025-06-01",
            nodes=(("done", "end", 1, 1, 0, None),),
        )
        r_open = data.run(journey, "u1", "running", "2024-01-01")
        data.run(journey, "u1", "completed", "2026-01-04", "2026-01-05")
        trigger = Trigger(name="t", event_type="x", conditions={}, workflow_id=journey)
        session.add(trigger)
        session.flush()
        for executed in ("2025-12-31", "2026-01-02"):
            session.add(
                TriggerExecution(
                    trigger_id=trigger.id,
                    condition_met=True,
                    executed_at=at(executed),
                    workflow_execution_id=r_old,
                )
            )
        for when in ("2024-05-01", "2025-12-31 23:59:59", "2026-01-01 00:00"):
            data.event("u1", "login", when)
        kept_ref = data.event("u1", "lifecycle.stage_changed", "2026-02-01", execution=r_old)
        session.add_all(
            [
                IngestedEvent(event_id="old", received_at=at("2025-01-01")),
                IngestedEvent(event_id="new", received_at=at("2026-06-01")),
            ]
        )
        for day in (date(2025, 12, 31), date(2026, 1, 1)):
            session.add(
                DailyMetric(
                    metric_date=day,
                    lifecycle_stage="all",
                    metric_name="m",
                    metric_value=Decimal(1),
                    dimensions={},
                )
            )
        session.commit()
    return {"r_old": r_old, "r_open": r_open, "kept_ref": kept_ref}


def purge(activities: MetricsActivities, table: Any, **options: Any) -> PurgeResult:
    request = PurgeInput(table=table, cutoff=CUTOFF, **{"batch_size": 1, **options})
    return ActivityEnvironment().run(activities.purge_expired, request)


def count(session: Session, model: type[SQLModel]) -> int:
    return int(session.exec(select(func.count()).select_from(model)).one())


def test_each_table_keeps_what_is_young_enough(
    session_factory: sessionmaker[Session], seeded: dict[str, Any]
) -> None:
    activities = MetricsActivities(session_factory)
    deleted = {table: purge(activities, table).deleted for table in RETENTION_ORDER}
    assert deleted == {
        "trigger_executions": 1,
        "workflow_executions": 1,
        "lifecycle_events": 2,
        "ingested_events": 1,
        "metrics_daily": 1,
    }
    with session_factory() as session:
        assert session.get(WorkflowExecution, seeded["r_old"]) is None
        assert session.get(WorkflowExecution, seeded["r_open"]) is not None  # open: never
        assert count(session, WorkflowExecution) == 2
        assert count(session, WorkflowExecutionNode) == 0  # cascaded with r_old
        assert count(session, TriggerExecution) == 1
        events = session.exec(select(LifecycleEvent).order_by(LifecycleEvent.created_at)).all()
        assert [(e.created_at, e.workflow_execution_id) for e in events] == [
            (at("2026-01-01"), None),
            (at("2026-02-01"), None),
        ]
        assert [row.event_id for row in session.exec(select(IngestedEvent)).all()] == ["new"]
        assert [row.metric_date for row in session.exec(select(DailyMetric)).all()] == [
            date(2026, 1, 1)
        ]


@pytest.mark.usefixtures("seeded")
def test_batches_stop_and_resume(session_factory: sessionmaker[Session]) -> None:
    activities = MetricsActivities(session_factory)
    first = purge(activities, "lifecycle_events", max_batches=1)
    second = purge(activities, "lifecycle_events", max_batches=1)
    third = purge(activities, "lifecycle_events", max_batches=1)
    assert [(r.deleted, r.done) for r in (first, second, third)] == [
        (1, False),
        (1, False),
        (0, True),
    ]
    repeat = purge(activities, "lifecycle_events", batch_size=500)
    assert (repeat.deleted, repeat.done) == (0, True)


@pytest.mark.usefixtures("seeded")
def test_old_months_go_as_whole_partitions_on_postgres(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory() as session:
        connection = session.connection()
        if not is_partitioned(connection):
            assert ensure_partitions(connection, now=at("2025-12-15"), months_ahead=1) == []
            return
        created = ensure_partitions(connection, now=at("2025-12-15"), months_ahead=1)
        session.commit()
    assert created == ["lifecycle_events_2025_12", "lifecycle_events_2026_01"]
    result = purge(MetricsActivities(session_factory), "lifecycle_events", batch_size=10)
    # 2025-12 ends at the cutoff and goes whole (one row); the 2024-05 row is batch-deleted
    # from the default partition; 2026-01 begins at the cutoff and stays.
    assert result.dropped_partitions == ["lifecycle_events_2025_12"]
    assert (result.deleted, result.done) == (1, True)
    with session_factory() as session:
        assert count(session, LifecycleEvent) == 2

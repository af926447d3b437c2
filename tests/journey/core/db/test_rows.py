"""journey.core.db.rows: dict rows inserted many at a time hold what ORM rows would have held."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, col, select

from journey.core.db.models import TriggerExecution, User, Workflow, WorkflowExecution
from journey.core.db.rows import insert_rows, row_values

# Generated per row or given per row, so two rows never agree on them.
PER_ROW = {"id", "started_at", "updated_at", "temporal_workflow_id", "idempotency_key"}


def _journey(session: Session) -> Workflow:
    session.add(User(id="u1"))
    journey = Workflow(name="welcome", definition={"nodes": []})
    session.add(journey)
    session.flush()
    return journey


def _values(journey: Workflow, n: int) -> dict[str, Any]:
    return {
        "workflow_id": journey.id,
        "workflow_version": journey.version,
        "user_id": "u1",
        "temporal_workflow_id": f"run-{n}",
        "idempotency_key": f"key-{n}",
    }


def _columns(row: WorkflowExecution) -> dict[str, Any]:
    return {k: v for k, v in row.model_dump().items() if k not in PER_ROW}


def test_a_dict_row_is_the_orm_row_of_the_same_values(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory() as session:
        journey = _journey(session)
        session.add(WorkflowExecution(**_values(journey, 0)))
        insert_rows(
            session,
            WorkflowExecution,
            [row_values(WorkflowExecution, **_values(journey, n)) for n in (1, 2)],
        )
        session.commit()
    with session_factory() as session:
        query = select(WorkflowExecution).order_by(col(WorkflowExecution.temporal_workflow_id))
        orm, *dicts = session.exec(query).all()
    assert len(dicts) == 2
    for row in dicts:
        assert _columns(row) == _columns(orm)
        assert row.status == "pending" and row.variables == {}
        assert row.started_at is not None and row.started_at.tzinfo is not None
    assert len({orm.id, *(row.id for row in dicts)}) == 3


def test_defaults_are_fresh_per_row() -> None:
    first = row_values(TriggerExecution, trigger_id=None, condition_met=True)
    second = row_values(TriggerExecution, trigger_id=None, condition_met=True)
    assert first["id"] != second["id"]
    first_run = row_values(
        WorkflowExecution,
        workflow_id=None,
        workflow_version="1",
        user_id="u",
        temporal_workflow_id="w",
    )
    second_run = row_values(
        WorkflowExecution,
        workflow_id=None,
        workflow_version="1",
        user_id="u",
        temporal_workflow_id="w",
    )
    assert first_run["variables"] == {} and first_run["variables"] is not second_run["variables"]


def test_a_missing_required_column_or_an_unknown_name_is_refused() -> None:
    with pytest.raises(TypeError, match=r"TriggerExecution\.condition_met needs a value"):
        row_values(TriggerExecution, trigger_id=None)
    with pytest.raises(TypeError, match="TriggerExecution has no column colour"):
        row_values(TriggerExecution, trigger_id=None, condition_met=True, colour="red")


def test_no_rows_is_no_statement(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        insert_rows(session, WorkflowExecution, [])
        assert not session.in_transaction()

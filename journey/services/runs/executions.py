"""The `workflow_executions` mirror: rows written when a run starts and when it ends.

Temporal is the source of truth for a run; this table exists so the gateway can list, filter
and count runs without a visibility query per request. Two writers touch a row: the gateway
(`reserve`, `mark_started`, `forget`) and the run itself through the
`journey.record_execution_outcome` activity (`record_outcome`). The gateway reserves the row
*before* starting the run, so the end-of-run upsert always finds it and a fast run can never
be overwritten back to `running` (`mark_started` only moves a row out of `pending`).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from journey.contracts.executions import ExecutionOutcomeInput, NodeOutcome
from journey.core.db.models import User, Workflow, WorkflowExecution, WorkflowExecutionNode

__all__ = [
    "ExecutionFilter",
    "find_by_key",
    "forget",
    "list_executions",
    "mark_started",
    "pending_values",
    "record_outcome",
    "request_fingerprint",
    "reserve",
]


def find_by_key(
    session: Session, *, workflow_id: uuid.UUID, idempotency_key: str
) -> WorkflowExecution | None:
    query = select(WorkflowExecution).where(
        WorkflowExecution.workflow_id == workflow_id,
        WorkflowExecution.idempotency_key == idempotency_key,
    )
    return session.exec(query).first()


def request_fingerprint(*, route: str, journey_id: uuid.UUID, caller: str, body: Any) -> str:
    """What a keyed start request was, as a SHA-256 of its canonical JSON: the route, the
    journey, who sent it and its (validated, JSON-mode) body. The same key with another
    fingerprint is another request, which must not get the first one's run (the IETF
    Idempotency-Key draft answers 422); the caller is part of it so that a key another caller
    used reveals nothing of their run."""
    canonical = json.dumps(
        {"route": route, "journey": str(journey_id), "caller": caller, "body": body},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def pending_values(
    *,
    journey: Workflow,
    user_id: str,
    temporal_workflow_id: str,
    idempotency_key: str,
    variables: dict[str, Any],
    request_fingerprint: str | None = None,
) -> dict[str, Any]:
    """The values of the row a start reserves before it asks Temporal (see `reserve`)."""
    return {
        "workflow_id": journey.id,
        "workflow_version": journey.version,
        "user_id": user_id,
        "temporal_workflow_id": temporal_workflow_id,
        "status": "pending",
        "variables": variables,
        "idempotency_key": idempotency_key,
        "request_fingerprint": request_fingerprint,
    }


def reserve(
    session: Session,
    *,
    journey: Workflow,
    user_id: str,
    temporal_workflow_id: str,
    idempotency_key: str,
    variables: dict[str, Any],
    request_fingerprint: str | None = None,
) -> tuple[WorkflowExecution, bool]:
    """Insert the `pending` row of a start, or return the row an earlier start with the same
    key made (the caller compares its `request_fingerprint`). The unique index
    (workflow_id, idempotency_key) decides races. -> (row, new)"""
    row = WorkflowExecution(
        **pending_values(
            journey=journey,
            user_id=user_id,
            temporal_workflow_id=temporal_workflow_id,
            idempotency_key=idempotency_key,
            variables=variables,
            request_fingerprint=request_fingerprint,
        )
    )
    session.add(row)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        existing = find_by_key(session, workflow_id=journey.id, idempotency_key=idempotency_key)
        if existing is None:
            raise
        return existing, False
    session.refresh(row)
    return row, True


def mark_started(session: Session, *, execution_id: uuid.UUID, run_id: str) -> None:
    """`pending` -> `running`; a row the run already finished keeps its final status."""
    session.execute(
        update(WorkflowExecution)
        .where(col(WorkflowExecution.id) == execution_id)
        .values(temporal_run_id=run_id)
    )
    session.execute(
        update(WorkflowExecution)
        .where(
            col(WorkflowExecution.id) == execution_id, col(WorkflowExecution.status) == "pending"
        )
        .values(status="running")
    )
    session.commit()


def forget(session: Session, *, execution_id: uuid.UUID) -> None:
    """Drop a reservation whose start failed, so a retry with the same key can start."""
    row = session.get(WorkflowExecution, execution_id)
    if row is not None and row.status == "pending":
        session.delete(row)
        session.commit()


def _storable(session: Session, outcome: ExecutionOutcomeInput) -> bool:
    """Whether a row can be inserted: both foreign keys must hold."""
    try:
        journey_id = uuid.UUID(outcome.journey_id)
    except ValueError:
        return False
    return (
        session.get(Workflow, journey_id) is not None
        and session.get(User, outcome.user_id) is not None
    )


def record_outcome(session: Session, outcome: ExecutionOutcomeInput) -> WorkflowExecution | None:
    """Upsert the final state of a run by its Temporal workflow id. Runs of ad-hoc ids (not a
    stored journey) or of vanished users have no row and get none: None."""
    query = select(WorkflowExecution).where(
        WorkflowExecution.temporal_workflow_id == outcome.workflow_id
    )
    row = session.exec(query).first()
    if row is None:
        if not _storable(session, outcome):
            return None
        row = WorkflowExecution(
            workflow_id=uuid.UUID(outcome.journey_id),
            workflow_version=outcome.journey_version,
            user_id=outcome.user_id,
            temporal_workflow_id=outcome.workflow_id,
        )
    row.temporal_run_id = outcome.run_id
    row.status = outcome.status
    row.outcome = outcome.outcome
    row.error_message = outcome.error_message
    row.variables = dict(outcome.variables)
    row.completed_at = outcome.finished_at
    if outcome.nodes:  # a payload from before the field has none: keep what is there
        row.goal_reached = outcome.goal_reached
    session.add(row)
    if outcome.nodes:
        session.flush()
        _replace_nodes(session, execution_id=row.id, nodes=outcome.nodes)
    session.commit()
    session.refresh(row)
    return row


def _replace_nodes(session: Session, *, execution_id: uuid.UUID, nodes: list[NodeOutcome]) -> None:
    """The run's per-node rows, replaced as a whole (activity retries write the same rows)."""
    session.execute(
        delete(WorkflowExecutionNode).where(col(WorkflowExecutionNode.execution_id) == execution_id)
    )
    session.add_all(
        WorkflowExecutionNode(
            execution_id=execution_id,
            node_id=node.node_id[:255],
            node_type=node.type[:50],
            entered=node.entered,
            completed=node.completed,
            failed=node.failed,
            variant=node.variant[:255] if node.variant is not None else None,
        )
        for node in nodes
    )


class ExecutionFilter:
    """The filters of `GET /api/executions`; None means "any"."""

    def __init__(
        self,
        *,
        journey_id: uuid.UUID | None = None,
        user_id: str | None = None,
        status: str | None = None,
        started_after: datetime | None = None,
        started_before: datetime | None = None,
    ) -> None:
        self.conditions: list[Any] = []
        if journey_id is not None:
            self.conditions.append(WorkflowExecution.workflow_id == journey_id)
        if user_id is not None:
            self.conditions.append(WorkflowExecution.user_id == user_id)
        if status is not None:
            self.conditions.append(WorkflowExecution.status == status)
        if started_after is not None:
            self.conditions.append(col(WorkflowExecution.started_at) >= started_after)
        if started_before is not None:
            self.conditions.append(col(WorkflowExecution.started_at) < started_before)


def list_executions(
    session: Session, *, where: ExecutionFilter, limit: int, offset: int
) -> tuple[list[WorkflowExecution], int]:
    """One page, newest first, and the total that matches."""
    total = session.exec(
        select(func.count()).select_from(WorkflowExecution).where(*where.conditions)
    ).one()
    page = session.exec(
        select(WorkflowExecution)
        .where(*where.conditions)
        .order_by(col(WorkflowExecution.started_at).desc(), col(WorkflowExecution.id))
        .limit(limit)
        .offset(offset)
    ).all()
    return list(page), int(total)

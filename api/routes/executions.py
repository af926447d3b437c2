"""Executions: list the mirror table, look inside one run, cancel it, or send it an event.

Lists come from `workflow_executions` only (cheap, filterable). A single execution adds what
only the run knows (current nodes, step log, live variables) from its `state` query, which
also answers for closed runs while their history is retained; when the run cannot answer the
row alone is returned with `live: false`.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Body, HTTPException, Query, status
from fastapi.concurrency import run_in_threadpool
from temporalio.client import WorkflowHandle
from temporalio.service import RPCError

from api.auth import Role, require_role
from api.deps import StateDep, execution_row
from api.guards import check_event_size
from api.schemas.executions import ExecutionDetail, ExecutionOut, ExecutionPage
from dsl.events import EventEnvelope
from journey.contracts.runs import JourneyState
from journey.core.db.models import EXECUTION_STATUSES, WorkflowExecution
from journey.services.runs import executions

EVENT_EXAMPLES = {
    "activated": {
        "summary": "the event a run waits for",
        "value": {"type": "activated", "user_id": "ada", "properties": {"source": "app"}},
    }
}

router = APIRouter(prefix="/api/executions", tags=["executions"])
QUERY_TIMEOUT = 5.0


def _open(row: WorkflowExecution) -> None:
    if row.status not in ("pending", "running"):
        raise HTTPException(status.HTTP_409_CONFLICT, f"execution is {row.status}")


def _handle(state: StateDep, row: WorkflowExecution) -> WorkflowHandle[object, object]:
    return state.temporal.get_workflow_handle(row.temporal_workflow_id)


@router.get("", response_model=ExecutionPage, dependencies=[require_role(Role.viewer)])
def list_executions(
    state: StateDep,
    journey_id: uuid.UUID | None = None,
    user_id: str | None = None,
    status_: Annotated[str | None, Query(alias="status")] = None,
    started_after: datetime | None = None,
    started_before: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> ExecutionPage:
    """Newest first."""
    if status_ is not None and status_ not in EXECUTION_STATUSES:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, f"status must be one of {EXECUTION_STATUSES}"
        )
    where = executions.ExecutionFilter(
        journey_id=journey_id,
        user_id=user_id,
        status=status_,
        started_after=started_after,
        started_before=started_before,
    )
    with state.session_factory() as session:
        rows, total = executions.list_executions(session, where=where, limit=limit, offset=offset)
    return ExecutionPage(
        items=[ExecutionOut.of(row) for row in rows], total=total, limit=limit, offset=offset
    )


@router.get(
    "/{execution_id}", response_model=ExecutionDetail, dependencies=[require_role(Role.viewer)]
)
async def get_execution(execution_id: uuid.UUID, state: StateDep) -> ExecutionDetail:
    row = await run_in_threadpool(execution_row, state, execution_id)
    settings = state.settings
    ui = (
        f"{settings.resolved_temporal_ui_url}/namespaces/{settings.temporal_namespace}"
        f"/workflows/{row.temporal_workflow_id}/{row.temporal_run_id or ''}/history"
    )
    base = ExecutionOut.of(row).model_dump()
    try:
        live = await asyncio.wait_for(
            _handle(state, row).query("state", result_type=JourneyState), QUERY_TIMEOUT
        )
    except Exception:  # closed and purged, no worker, Temporal away: the row still answers
        return ExecutionDetail(**base, live=False, temporal_ui_url=ui)
    if row.status in ("pending", "running"):
        base["variables"] = live.variables
        base["outcome"] = live.outcome
    return ExecutionDetail(
        **base,
        live=True,
        current_nodes=live.current_nodes,
        waiting_for=live.waiting_for,
        step_log=live.step_log,
        temporal_ui_url=ui,
    )


@router.post(
    "/{execution_id}/cancel",
    response_model=ExecutionOut,
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=[require_role(Role.operator)],
)
async def cancel_execution(execution_id: uuid.UUID, state: StateDep) -> ExecutionOut:
    """Request cancellation; the row turns `cancelled` when the run has stopped (202)."""
    row = await run_in_threadpool(execution_row, state, execution_id)
    _open(row)
    try:
        await _handle(state, row).cancel()
    except RPCError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, f"run is not open: {exc}") from exc
    return ExecutionOut.of(row)


@router.post(
    "/{execution_id}/events",
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=[require_role(Role.operator)],
)
async def deliver_event(
    execution_id: uuid.UUID,
    event: Annotated[EventEnvelope, Body(openapi_examples=EVENT_EXAMPLES)],
    state: StateDep,
) -> dict[str, str]:
    """Signal one event to one run, bypassing triggers (the run decides what it waits for)."""
    # The run keeps the event in its history: no larger than the consumer would deliver.
    check_event_size(event, state.settings.event_max_bytes)
    row = await run_in_threadpool(execution_row, state, execution_id)
    _open(row)
    if event.user_id != row.user_id:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"event is for user {event.user_id!r}; the execution is for {row.user_id!r}",
        )
    try:
        await _handle(state, row).signal("event", event.model_dump(mode="json"))
    except RPCError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, f"run is not open: {exc}") from exc
    return {"execution_id": str(row.id), "event_id": event.id, "status": "delivered"}

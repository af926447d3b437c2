"""`/api/triggers`: the rules that start journeys from events, their decisions, and dry runs.

Thin HTTP layer over `journey.services.triggers`. Bodies are validated by `dsl.triggers.TriggerRule`
(through the request models), and every 422 names the body field at fault as a JSON pointer
into the submitted body: union tags pydantic adds to locations (`leaf` in a condition) are
dropped, and the rule's cross-field errors point at `reentry_period`. Ids that are not UUIDs
are unknown ids (404), as in `/api/workflows`. `POST /{id}/test` reads and never writes.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Query, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from sqlmodel import Session

from api.auth import Editor, Operator, Viewer
from api.deps import SessionDep
from api.errors import problem_responses
from api.located import LocatedRoute
from api.schemas.triggers import (
    TriggerCreate,
    TriggerExecutionPublic,
    TriggerExecutionsPublic,
    TriggerFields,
    TriggerPublic,
    TriggersPublic,
    TriggerTest,
    TriggerTestResult,
    TriggerUpdate,
    create_examples,
    dry_run_examples,
    update_examples,
)
from journey.core.db.models import Trigger, Workflow
from journey.services import triggers

router = APIRouter(
    prefix="/api/triggers",
    tags=["triggers"],
    route_class=LocatedRoute,
    responses=problem_responses(401, 403, 413, 422, 429, 500),
)


def load_trigger(trigger_id: str, session: SessionDep) -> Trigger:
    unknown = HTTPException(status.HTTP_404_NOT_FOUND, f"no trigger with id {trigger_id!r}")
    try:
        key = uuid.UUID(trigger_id)
    except ValueError:
        raise unknown from None
    row = triggers.get_trigger(session, trigger_id=key)
    if row is None:
        raise unknown
    return row


TriggerDep = Annotated[Trigger, Depends(load_trigger)]


def _fields(session: Session, body: TriggerFields) -> dict[str, Any]:
    """The keyword arguments of a create or update; 422 at /journey_id for an unknown one."""
    if session.get(Workflow, body.journey_id) is None:
        raise RequestValidationError(
            [
                {
                    "loc": ("body", "journey_id"),
                    "type": "unknown_journey",
                    "msg": f"no journey with id {body.journey_id}",
                }
            ]
        )
    return {
        "name": body.name,
        "description": body.description,
        "journey_id": body.journey_id,
        "enabled": body.enabled,
        "rule": body.rule(),
    }


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=TriggerPublic,
    summary="Create a trigger that starts a journey on matching events",
)
def create_trigger(
    session: SessionDep,
    _: Editor,
    body: Annotated[TriggerCreate, Body(openapi_examples=create_examples())],
) -> TriggerPublic:
    return TriggerPublic.of(triggers.create_trigger(session, **_fields(session, body)))


@router.get("", response_model=TriggersPublic, summary="List triggers, newest first")
def list_triggers(
    session: SessionDep,
    _: Viewer,
    journey_id: Annotated[uuid.UUID | None, Query(description="The journey started")] = None,
    event_type: Annotated[
        str | None, Query(max_length=255, description="The event type pattern, as stored")
    ] = None,
    enabled: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=2**31)] = 0,
) -> TriggersPublic:
    rows, total = triggers.list_triggers(
        session,
        journey_id=journey_id,
        event_type=event_type,
        enabled=enabled,
        limit=limit,
        offset=offset,
    )
    items = [TriggerPublic.of(row) for row in rows]
    return TriggersPublic(items=items, total=total, limit=limit, offset=offset)


@router.get(
    "/{trigger_id}",
    response_model=TriggerPublic,
    responses=problem_responses(404),
    summary="One trigger",
)
def get_trigger(_: Viewer, row: TriggerDep) -> TriggerPublic:
    return TriggerPublic.of(row)


@router.put(
    "/{trigger_id}",
    response_model=TriggerPublic,
    responses=problem_responses(404),
    summary="Replace every editable field of a trigger",
)
def update_trigger(
    session: SessionDep,
    _: Editor,
    row: TriggerDep,
    body: Annotated[TriggerUpdate, Body(openapi_examples=update_examples())],
) -> TriggerPublic:
    return TriggerPublic.of(triggers.update_trigger(session, row=row, **_fields(session, body)))


@router.delete(
    "/{trigger_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=problem_responses(404, 409),
    summary="Delete a trigger and its decision log (the runs it started stay)",
)
def delete_trigger(session: SessionDep, _: Editor, row: TriggerDep) -> Response:
    try:
        triggers.delete_trigger(session, row=row)
    except triggers.TriggerConflict as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/{trigger_id}/executions",
    response_model=TriggerExecutionsPublic,
    responses=problem_responses(404),
    summary="The trigger's recent decisions, newest first",
)
def list_trigger_executions(
    session: SessionDep,
    _: Viewer,
    row: TriggerDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=2**31)] = 0,
) -> TriggerExecutionsPublic:
    rows, total = triggers.list_trigger_executions(
        session, trigger_id=row.id, limit=limit, offset=offset
    )
    items = [TriggerExecutionPublic.of(execution) for execution in rows]
    return TriggerExecutionsPublic(items=items, total=total, limit=limit, offset=offset)


@router.post(
    "/{trigger_id}/test",
    response_model=TriggerTestResult,
    responses=problem_responses(404, 409),
    summary="What the trigger would do with an event; changes nothing",
)
def dry_run(
    session: SessionDep,
    _: Operator,
    row: TriggerDep,
    body: Annotated[TriggerTest, Body(openapi_examples=dry_run_examples())],
) -> TriggerTestResult:
    event = body.event.model_dump(mode="json")
    try:
        run = triggers.dry_run(session, row=row, event=event, user=body.user)
    except ValidationError as exc:  # written outside the API, e.g. by an old seed
        raise HTTPException(
            status.HTTP_409_CONFLICT, f"the stored rule is not valid; replace it with PUT: {exc}"
        ) from exc
    return TriggerTestResult.of(run)

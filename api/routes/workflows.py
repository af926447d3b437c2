"""`/api/workflows`: create, read, list, version, validate and retire journey definitions.

Thin HTTP layer over `journey.services.definitions`: it checks roles, validates the submitted
journey (every problem at once, 422 invalid-journey) and maps domain conflicts to 409 problems. Ids
that are not UUIDs are unknown ids (404), not malformed requests, so every bad id reads the same.
Routes are sync: the session factory is synchronous, and FastAPI runs them in its thread pool.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Header, HTTPException, Query, status
from sqlalchemy.exc import IntegrityError

from api.auth import Editor, Viewer
from api.deps import SessionDep, WorkflowDep, not_found
from api.errors import InvalidJourney, problem_responses
from api.schemas.workflows import (
    StatusChange,
    ValidationReport,
    WorkflowCreate,
    WorkflowPublic,
    WorkflowsPublic,
    WorkflowStatus,
    WorkflowUpdate,
    WorkflowValidate,
    WorkflowVersionPublic,
    create_examples,
    status_examples,
    update_examples,
    validate_examples,
)
from dsl.document import JourneyDocument
from dsl.stages import LifecycleStage
from dsl.validation import validate_journey
from journey.core.db.models import Workflow
from journey.services import definitions

router = APIRouter(
    prefix="/api/workflows",
    tags=["workflows"],
    responses=problem_responses(401, 403, 413, 422, 429, 500),
)


def _document(definition: dict[str, object]) -> JourneyDocument:
    result = validate_journey(definition)
    if result.document is None:
        raise InvalidJourney(result.problems)
    return result.document


def _conflict(exc: Exception) -> HTTPException:
    return HTTPException(status.HTTP_409_CONFLICT, str(exc))


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=WorkflowPublic,
    summary="Create a draft journey at version 1.0.0",
)
def create_workflow(
    session: SessionDep,
    principal: Editor,
    body: Annotated[WorkflowCreate, Body(openapi_examples=create_examples())],
) -> Workflow:
    document = _document(body.definition)
    return definitions.create_workflow(session, document=document, created_by=principal.subject)


@router.get("", response_model=WorkflowsPublic, summary="List journeys, newest first")
def list_workflows(
    session: SessionDep,
    _: Viewer,
    status_: Annotated[WorkflowStatus | None, Query(alias="status")] = None,
    stage: Annotated[LifecycleStage | None, Query(description="A lifecycle stage")] = None,
    q: Annotated[str | None, Query(max_length=255, description="Name contains (any case)")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=2**31)] = 0,
) -> WorkflowsPublic:
    rows, total = definitions.list_workflows(
        session,
        status=status_,
        stage=stage.value if stage else None,
        q=q,
        limit=limit,
        offset=offset,
    )
    items = [WorkflowPublic.model_validate(row) for row in rows]
    return WorkflowsPublic(items=items, total=total, limit=limit, offset=offset)


@router.post(
    "/validate",
    response_model=ValidationReport,
    summary="Validate a journey without storing it; lists every problem",
)
def validate_workflow(
    _: Viewer, body: Annotated[WorkflowValidate, Body(openapi_examples=validate_examples())]
) -> ValidationReport:
    result = validate_journey(body.definition)
    return ValidationReport(valid=result.ok, problems=result.problems)


@router.get(
    "/{workflow_id}",
    response_model=WorkflowPublic,
    responses=problem_responses(404),
    summary="One journey, at its current version",
)
def get_workflow(_: Viewer, row: WorkflowDep) -> Workflow:
    return row


@router.put(
    "/{workflow_id}",
    response_model=WorkflowPublic,
    responses=problem_responses(404, 409),
    summary="Store a new immutable version and make it current",
)
def update_workflow(
    session: SessionDep,
    principal: Editor,
    row: WorkflowDep,
    body: Annotated[WorkflowUpdate, Body(openapi_examples=update_examples())],
    if_match: Annotated[str | None, Header(max_length=60)] = None,
) -> Workflow:
    expected = body.expected_version
    if if_match is not None:
        header_version = if_match.removeprefix("W/").strip().strip('"')
        if expected is not None and expected != header_version:
            raise HTTPException(
                status.HTTP_409_CONFLICT, "If-Match and expected_version name different versions"
            )
        expected = header_version
    document = _document(body.definition)
    try:
        return definitions.update_workflow(
            session,
            row=row,
            document=document,
            created_by=principal.subject,
            bump=body.version_bump,
            expected_version=expected,
        )
    except definitions.DefinitionConflict as exc:
        raise _conflict(exc) from exc
    except IntegrityError as exc:  # a concurrent edit stored the same version first
        session.rollback()
        raise HTTPException(
            status.HTTP_409_CONFLICT, "the journey changed concurrently; reload and retry"
        ) from exc


@router.get(
    "/{workflow_id}/versions",
    response_model=list[WorkflowVersionPublic],
    responses=problem_responses(404),
    summary="Every stored version, newest first",
)
def list_versions(session: SessionDep, _: Viewer, row: WorkflowDep) -> list[WorkflowVersionPublic]:
    versions = definitions.list_versions(session, workflow_id=row.id)
    return [WorkflowVersionPublic.model_validate(version) for version in versions]


@router.get(
    "/{workflow_id}/versions/{version}",
    response_model=WorkflowVersionPublic,
    responses=problem_responses(404),
    summary="One stored version",
)
def get_version(
    session: SessionDep, _: Viewer, row: WorkflowDep, version: str
) -> WorkflowVersionPublic:
    found = definitions.get_version(session, workflow_id=row.id, version=version)
    if found is None:
        raise not_found(f"version {version!r} of journey {row.id}")
    return WorkflowVersionPublic.model_validate(found)


@router.post(
    "/{workflow_id}/status",
    response_model=WorkflowPublic,
    responses=problem_responses(404, 409),
    summary="Change status: draft → active ⇄ inactive → archived",
)
def change_status(
    session: SessionDep,
    _: Editor,
    row: WorkflowDep,
    body: Annotated[StatusChange, Body(openapi_examples=status_examples())],
) -> Workflow:
    try:
        return definitions.change_status(session, row=row, status=body.status)
    except definitions.DefinitionConflict as exc:
        raise _conflict(exc) from exc


@router.delete(
    "/{workflow_id}",
    response_model=WorkflowPublic,
    responses=problem_responses(404),
    summary="Archive a journey (kept for history; idempotent)",
)
def delete_workflow(session: SessionDep, _: Editor, row: WorkflowDep) -> Workflow:
    if row.status == "archived":
        return row
    return definitions.change_status(session, row=row, status="archived")

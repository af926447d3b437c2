"""BPMN import and export of journeys (journey.bpmn holds the mapping; this is the HTTP layer).

`POST /api/workflows/import/bpmn` takes the BPMN document as the request body (application/xml,
text/xml or application/bpmn+xml) and stores it as a new draft journey, keeping the source.
Unreadable or unsafe XML (a DTD, entities) is a 400; a diagram that does not map, or maps to a
journey that does not validate, is a 422 listing every problem with its BPMN element id.
`GET /api/workflows/{id}/bpmn` writes any journey as BPMN with diagram coordinates. This router
is registered before the workflows router so `/import/bpmn` is never read as a journey id.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from api.auth import Editor, Viewer
from api.deps import SessionDep, WorkflowDep, stored_definition
from api.errors import problem_response, problem_responses
from api.schemas.bpmn import XML_MEDIA_TYPES, BpmnImported, xml_request_body, xml_response
from api.schemas.workflows import WorkflowPublic
from dsl.document import JourneyDocument
from journey.bpmn import BpmnSyntaxError, export_bpmn, import_bpmn
from journey.services import definitions

router = APIRouter(
    prefix="/api/workflows",
    tags=["bpmn"],
    responses=problem_responses(401, 403, 413, 422, 429, 500),
)


async def bpmn_body(request: Request) -> bytes:
    """The raw XML body: the media type is checked here because the body is not JSON."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in XML_MEDIA_TYPES and not media_type.endswith("+xml"):
        raise HTTPException(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            f"send the BPMN document as the body with Content-Type {' or '.join(XML_MEDIA_TYPES)}"
            f" (got {media_type or 'none'})",
        )
    body = await request.body()
    if not body.strip():
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "the body is empty; send a BPMN document")
    return body


@router.post(
    "/import/bpmn",
    status_code=status.HTTP_201_CREATED,
    response_model=BpmnImported,
    responses=problem_responses(400, 415),
    openapi_extra=xml_request_body(),
    summary="Import a BPMN 2.0 diagram as a new draft journey (the source is kept)",
)
def import_workflow(
    request: Request,
    session: SessionDep,
    principal: Editor,
    source: Annotated[bytes, Depends(bpmn_body)],
) -> BpmnImported | JSONResponse:
    try:
        result = import_bpmn(source)
        text = source.decode("utf-8-sig")
    except BpmnSyntaxError as exc:
        return problem_response(request, 400, exc.message, slug=exc.code.replace("_", "-"))
    except UnicodeDecodeError:
        return problem_response(request, 400, "the BPMN document must be UTF-8 encoded")
    if result.document is None or result.problems:
        return problem_response(
            request,
            422,
            f"the BPMN has {len(result.problems)} problem(s); each names its BPMN element",
            slug="invalid-bpmn",
            problems=[problem.model_dump() for problem in result.problems],
        )
    row = definitions.create_workflow(
        session, document=result.document, created_by=principal.subject, bpmn_source=text
    )
    public = WorkflowPublic.model_validate(row)
    return BpmnImported(**public.model_dump(), suggested_trigger=result.suggested_trigger)


@router.get(
    "/{workflow_id}/bpmn",
    response_class=Response,
    responses={**xml_response("The journey as BPMN 2.0 XML"), **problem_responses(404, 409)},
    summary="Export a journey as BPMN 2.0 XML, laid out for a modeler",
)
def export_workflow(
    session: SessionDep,
    _: Viewer,
    row: WorkflowDep,
    version: Annotated[
        str | None, Query(max_length=50, description="A stored version; default: current")
    ] = None,
    source: Annotated[
        Literal["journey", "original"],
        Query(description="`original`: the BPMN as it was imported, verbatim"),
    ] = "journey",
) -> Response:
    if source == "original":
        if row.bpmn_source is None:
            raise HTTPException(
                status.HTTP_404_NOT_FOUND, f"journey {row.id} was not imported from BPMN"
            )
        return _xml(row.bpmn_source, row.name)
    definition = stored_definition(session, row, version)
    try:
        document = JourneyDocument.model_validate(definition)
    except ValidationError as exc:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            f"the stored definition does not validate ({exc.error_count()} error(s)); "
            "store a valid version first",
        ) from exc
    return _xml(export_bpmn(document), document.name)


def _xml(text: str, name: str) -> Response:
    filename = re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-").lower() or "journey"
    return Response(
        content=text,
        media_type="application/xml",
        headers={"Content-Disposition": f'attachment; filename="{filename}.bpmn"'},
    )

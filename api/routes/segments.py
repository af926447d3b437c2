"""`/api/segments`: named audiences over user profiles, answered by the database.

Thin HTTP layer over `journey.services.segments.service`. Every count, sample, member page and
overlap is the compiled SQL condition (journey/services/segments/sql.py); for one user, `evaluate`
answers membership by SQL and explains a "no" with the Python evaluator (`dsl.conditions.explain`),
whose semantics are the same. Bodies are validated by the condition models, then by the segment
rules (only `user.*` fields, storable literals); every 422 names the body field at fault as a
JSON pointer (`/conditions/all/1/field`). Ids that are not UUIDs are unknown ids (404).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Body, Depends, HTTPException, Query, Response, status
from fastapi.exceptions import RequestValidationError
from sqlmodel import Session

from api.auth import Editor, Viewer
from api.deps import Limit, Offset, SessionDep
from api.errors import problem_responses
from api.located import LocatedRoute
from api.schemas.segments import (
    FailedCondition,
    SegmentCreate,
    SegmentEvaluate,
    SegmentEvaluation,
    SegmentMember,
    SegmentMembersPublic,
    SegmentOverlap,
    SegmentPublic,
    SegmentsPublic,
    SegmentUpdate,
    create_examples,
    evaluate_examples,
    update_examples,
)
from journey.core.db.models import User, UserSegment
from journey.services.segments import service
from journey.services.segments.profile import why_not
from journey.services.segments.rules import condition_problems
from journey.services.segments.service import Definition

router = APIRouter(
    prefix="/api/segments",
    tags=["segments"],
    route_class=LocatedRoute,
    responses=problem_responses(401, 403, 413, 422, 429, 500),
)


def _load(session: Session, segment_id: str) -> UserSegment:
    unknown = HTTPException(status.HTTP_404_NOT_FOUND, f"no segment with id {segment_id!r}")
    try:
        key = uuid.UUID(segment_id)
    except ValueError:
        raise unknown from None
    row = service.get_segment(session, segment_id=key)
    if row is None:
        raise unknown
    return row


def load_segment(segment_id: str, session: SessionDep) -> UserSegment:
    return _load(session, segment_id)


SegmentDep = Annotated[UserSegment, Depends(load_segment)]


def _stored(row: UserSegment) -> Definition:
    try:
        return service.definition_of(row)
    except service.InvalidDefinition as exc:  # written outside the API, e.g. by a seed
        raise HTTPException(
            status.HTTP_409_CONFLICT, f"the stored conditions are not valid; replace them: {exc}"
        ) from exc


def _definition(body: SegmentCreate | SegmentUpdate | SegmentEvaluate) -> Definition:
    """The body's definition; 422 with the path of every segment rule it breaks."""
    if body.conditions is not None:
        problems = condition_problems(body.conditions)
        if problems:
            raise RequestValidationError(
                [
                    {
                        "loc": ("body", "conditions", *_segments(problem.path)),
                        "type": problem.code,
                        "msg": problem.message,
                    }
                    for problem in problems
                ]
            )
    return Definition(body.conditions, tuple(str(stage) for stage in body.lifecycle_stages))


def _segments(pointer: str) -> list[str]:
    return [part.replace("~1", "/").replace("~0", "~") for part in pointer.split("/")[1:]]


def _public(session: Session, row: UserSegment) -> SegmentPublic:
    states = service.cache_states(session, segment_ids=[row.id], now=datetime.now(UTC))
    return SegmentPublic.of(row, states.get(row.id))


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=SegmentPublic,
    summary="Create a segment",
)
def create_segment(
    session: SessionDep,
    _: Editor,
    body: Annotated[SegmentCreate, Body(openapi_examples=create_examples())],
) -> SegmentPublic:
    row = service.create_segment(
        session, name=body.name, description=body.description, definition=_definition(body)
    )
    return _public(session, row)


@router.get("", response_model=SegmentsPublic, summary="List segments by name")
def list_segments(
    session: SessionDep, _: Viewer, limit: Limit = 50, offset: Offset = 0
) -> SegmentsPublic:
    rows, total = service.list_segments(session, limit=limit, offset=offset)
    states = service.cache_states(
        session, segment_ids=[row.id for row in rows], now=datetime.now(UTC)
    )
    items = [SegmentPublic.of(row, states.get(row.id)) for row in rows]
    return SegmentsPublic(items=items, total=total, limit=limit, offset=offset)


@router.post(
    "/evaluate",
    response_model=SegmentEvaluation,
    responses=problem_responses(404, 409),
    summary="Count and sample the members of a definition, or judge one user; changes nothing",
)
def evaluate(
    session: SessionDep,
    _: Viewer,
    body: Annotated[SegmentEvaluate, Body(openapi_examples=evaluate_examples())],
    limit: Annotated[int, Query(ge=0, le=100, description="Sample size")] = 10,
) -> SegmentEvaluation:
    if body.segment_id is not None:
        if body.conditions is not None or body.lifecycle_stages:
            raise RequestValidationError(
                [
                    {
                        "loc": ("body", "segment_id"),
                        "type": "ambiguous_definition",
                        "msg": "give segment_id or conditions/lifecycle_stages, not both",
                    }
                ]
            )
        row = service.get_segment(session, segment_id=body.segment_id)
        if row is None:
            raise RequestValidationError(
                [
                    {
                        "loc": ("body", "segment_id"),
                        "type": "unknown_segment",
                        "msg": f"no segment with id {body.segment_id}",
                    }
                ]
            )
        definition = _stored(row)
    else:
        definition = _definition(body)
    if body.user_id is None:
        sample, count = service.member_page(session, definition=definition, limit=limit)
        return SegmentEvaluation(count=count, sample=[SegmentMember.of(u) for u in sample])
    user = session.get(User, body.user_id)
    if user is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no user with id {body.user_id!r}")
    member = service.is_member(session, definition=definition, user_id=user.id)
    failures = (
        []
        if member
        else why_not(
            user, condition=definition.condition, lifecycle_stages=definition.lifecycle_stages
        )
    )
    return SegmentEvaluation(
        user_id=user.id, member=member, failed_conditions=[FailedCondition.of(f) for f in failures]
    )


@router.get(
    "/{segment_id}",
    response_model=SegmentPublic,
    responses=problem_responses(404),
    summary="One segment, with the state of its membership cache",
)
def get_segment(session: SessionDep, _: Viewer, row: SegmentDep) -> SegmentPublic:
    return _public(session, row)


@router.put(
    "/{segment_id}",
    response_model=SegmentPublic,
    responses=problem_responses(404),
    summary="Replace every editable field of a segment",
)
def update_segment(
    session: SessionDep,
    _: Editor,
    row: SegmentDep,
    body: Annotated[SegmentUpdate, Body(openapi_examples=update_examples())],
) -> SegmentPublic:
    row = service.update_segment(
        session,
        row=row,
        name=body.name,
        description=body.description,
        definition=_definition(body),
    )
    return _public(session, row)


@router.delete(
    "/{segment_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=problem_responses(404),
    summary="Delete a segment and its cached memberships",
)
def delete_segment(session: SessionDep, _: Editor, row: SegmentDep) -> Response:
    service.delete_segment(session, row=row)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/{segment_id}/users",
    response_model=SegmentMembersPublic,
    responses=problem_responses(404, 409),
    summary="The segment's members now (by SQL), by user id",
)
def list_members(
    session: SessionDep, _: Viewer, row: SegmentDep, limit: Limit = 50, offset: Offset = 0
) -> SegmentMembersPublic:
    users, total = service.member_page(session, definition=_stored(row), limit=limit, offset=offset)
    items = [SegmentMember.of(user) for user in users]
    return SegmentMembersPublic(items=items, total=total, limit=limit, offset=offset)


@router.get(
    "/{segment_id}/overlap/{other_id}",
    response_model=SegmentOverlap,
    responses=problem_responses(404, 409),
    summary="Members of the segment, of another, and of both (by SQL)",
)
def overlap(session: SessionDep, _: Viewer, row: SegmentDep, other_id: str) -> SegmentOverlap:
    other = _load(session, other_id)
    counts = service.overlap(session, first=_stored(row), second=_stored(other))
    return SegmentOverlap.of(row.id, other.id, counts)

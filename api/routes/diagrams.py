"""`GET /api/workflows/{id}/diagram`: a journey as Mermaid flowchart text (dsl/diagram.py).

Answered as `text/plain; charset=utf-8`: there is no registered media type for Mermaid, and
plain text is what browsers show, `curl` prints, and GitHub, editors and mermaid.live take as
is (paste it into a ```mermaid block). With `counts=true` every node is annotated with the
per-node sums of the journey's performance report (finished runs: entered, completed, failed),
split variants with their runs, and nodes no run entered are greyed out. `version` draws a
stored version and counts only its runs; without it the current version is drawn and the
counts are over all versions (node ids that a version no longer has are left out).
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse

from api.auth import Viewer
from api.deps import SessionDep, WorkflowDep, stored_definition
from api.errors import problem_responses
from api.params import From, To, check_days
from dsl.diagram import DiagramCounts, NodeCounts, render_mermaid
from dsl.document import JourneyDocument
from journey.services.metrics.performance import workflow_performance

router = APIRouter(
    prefix="/api/workflows",
    tags=["workflows"],
    responses=problem_responses(401, 403, 404, 422, 429, 500),
)

_EXAMPLE = """flowchart TD
    start_marker(("start"))
    n0{{"wait_a_day<br/>delay P1D"}}
    n1{"already_active<br/>condition"}
    start_marker --> n0
    n0 --> n1
"""


def _counts(
    session: Any, journey_id: uuid.UUID, version: str | None, start: date | None, end: date | None
) -> DiagramCounts:
    report = workflow_performance(
        session, journey_id=journey_id, version=version, start=start, end=end
    )
    return DiagramCounts(
        nodes={
            node.node_id: NodeCounts(node.entered, node.completed, node.failed)
            for node in report.nodes
        },
        variants={(v.node_id, v.variant): v.runs for v in report.variants},
    )


@router.get(
    "/{workflow_id}/diagram",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {"example": _EXAMPLE}}}},
    summary="The journey as a Mermaid flowchart, optionally with per-node run counts",
)
def journey_diagram(
    session: SessionDep,
    _: Viewer,
    row: WorkflowDep,
    version: Annotated[str | None, Query(max_length=50, description="A stored version")] = None,
    counts: Annotated[
        bool, Query(description="Annotate nodes with entered/completed/failed counts")
    ] = False,
    from_: From = None,
    to: To = None,
) -> PlainTextResponse:
    definition = stored_definition(session, row, version)
    check_days(from_, to)
    annotated = _counts(session, row.id, version, from_, to) if counts else None
    text = render_mermaid(JourneyDocument.model_validate(definition), annotated)
    return PlainTextResponse(text, media_type="text/plain; charset=utf-8")

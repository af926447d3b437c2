"""`POST /api/workflows/{id}/simulate`: a time-travel run of a stored journey, sending nothing.

The journey (current or given version) runs for the body's user and future events on a
private time-skipping server with recording stand-ins (journey/simulation/); the answer is the
timeline. Nothing is written but the audit row of the call: stored journeys that `sub_journey`
nodes name are read beforehand, and the stand-ins reach no database, mail server, webhook or
broker. Operator role, like starting a run. Each simulation holds a server process for up to
`JOURNEY_SIMULATION_TIMEOUT_SECONDS`, so at most `JOURNEY_SIMULATION_MAX_CONCURRENT` run at
once per gateway; more answer 503 with Retry-After.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated

from fastapi import APIRouter, Body, HTTPException, Request, status
from fastapi.exceptions import RequestValidationError

from api.auth import Operator
from api.deps import StateDep, WorkflowDep
from api.errors import problem_responses
from api.schemas.simulations import SimulationRequest, SimulationResult, simulate_examples
from dsl.document import JourneyDocument
from journey.contracts.runs import JourneySnapshot
from journey.core.db.engine import SessionFactory
from journey.core.db.models import Workflow
from journey.core.embedded.servers import BinaryNotFound
from journey.services import definitions
from journey.simulation.inputs import scenario_problems, sub_journey_ids
from journey.simulation.runner import simulate

router = APIRouter(
    prefix="/api/workflows",
    tags=["workflows"],
    responses=problem_responses(401, 403, 404, 422, 429, 500, 503),
)

# Sub-journeys are loaded before the run; a chain longer than this is surely a mistake.
MAX_SUB_JOURNEYS = 20


def _snapshot(
    row: Workflow, version: str | None, session_factory: SessionFactory
) -> JourneySnapshot:
    if version is None:
        return definitions.snapshot_of(row)
    with session_factory() as session:
        found = definitions.get_version(session, workflow_id=row.id, version=version)
    if found is None:
        raise RequestValidationError(
            [
                {
                    "loc": ("body", "version"),
                    "msg": f"no version {version!r} of this journey",
                    "type": "value_error",
                }
            ]
        )
    document = JourneyDocument.model_validate(found.definition)
    return JourneySnapshot(journey_id=str(row.id), version=found.version, document=document)


def _sub_journeys(
    main: JourneySnapshot, session_factory: SessionFactory
) -> dict[str, JourneySnapshot]:
    """Every stored journey the run could start as a sub-journey (current versions)."""
    found: dict[str, JourneySnapshot] = {}
    pending = sub_journey_ids([main.document])
    with session_factory() as session:
        while pending and len(found) < MAX_SUB_JOURNEYS:
            journey_id = pending.pop(0)
            if journey_id in found:
                continue
            try:
                row = definitions.get_workflow(session, workflow_id=uuid.UUID(journey_id))
            except ValueError:
                row = None
            if row is None:
                continue  # the simulated run fails at that node, as the real one would
            found[journey_id] = definitions.snapshot_of(row)
            pending += sub_journey_ids([found[journey_id].document])
    return found


def _limiter(request: Request, limit: int) -> asyncio.Semaphore:
    holder = request.app.state
    if getattr(holder, "simulations", None) is None:
        holder.simulations = asyncio.Semaphore(limit)
    semaphore: asyncio.Semaphore = holder.simulations
    return semaphore


@router.post(
    "/{workflow_id}/simulate",
    response_model=SimulationResult,
    summary="Simulate a run for a user and future events on a virtual clock; nothing is sent",
)
async def simulate_workflow(
    request: Request,
    state: StateDep,
    _: Operator,
    row: WorkflowDep,
    body: Annotated[SimulationRequest, Body(openapi_examples=simulate_examples())],
) -> SimulationResult:
    snapshot = await asyncio.to_thread(_snapshot, row, body.version, state.session_factory)
    problems = scenario_problems(snapshot.document, body)
    if problems:
        raise RequestValidationError(
            [
                {
                    "loc": ("body", *problem.path.strip("/").split("/")),
                    "msg": problem.message,
                    "type": problem.code,
                }
                for problem in problems
            ]
        )
    sub_journeys = await asyncio.to_thread(_sub_journeys, snapshot, state.session_factory)
    limiter = _limiter(request, state.settings.simulation_max_concurrent)
    if limiter.locked():
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "the gateway is running as many simulations as it may; try again shortly",
            headers={"Retry-After": "5"},
        )
    async with limiter:
        try:
            return await simulate(
                snapshot, body, settings=state.settings, sub_journeys=sub_journeys
            )
        except BinaryNotFound as exc:  # a deployment without the time-skipping server
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from exc

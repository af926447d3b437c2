"""`GET /health`: 200 when the database, Temporal and Kafka answer; 503 naming what is down."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.deps import StateDep
from journey.services.health import HealthReport, check_dependencies

router = APIRouter(tags=["health"])


@router.get(
    "/health",
    response_model=HealthReport,
    responses={503: {"model": HealthReport, "description": "a dependency is down"}},
)
async def health(state: StateDep) -> JSONResponse:
    report = await check_dependencies(state.settings, state.engine, state.temporal)
    return JSONResponse(report.model_dump(), status_code=200 if report.status == "ok" else 503)

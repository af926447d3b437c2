"""`GET /metrics`: Prometheus text format, unauthenticated (JOURNEY_METRICS_ENABLED=false
removes it).

Prometheus scrapers carry no bearer token, and what is exposed is counts and latencies by
journey, trigger and route (names and ids, never user data), so like most exporters it is
open on the API port; keep it off the public network, or turn it off. Not in the OpenAPI
document: it is an operations endpoint, not part of the API.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST

from journey.core.telemetry.metrics import ApiMetrics

router = APIRouter(tags=["operations"])


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    source: ApiMetrics = request.app.state.metrics
    # The database, Kafka and worker reads block (each bounded); keep them off the loop.
    body = await asyncio.to_thread(source.exposition)
    return Response(body, media_type=CONTENT_TYPE_LATEST)

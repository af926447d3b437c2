"""The FastAPI application. The lifespan owns the long-lived clients (database, Temporal, Kafka)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api.audit import AuditMiddleware
from api.auth import log_auth_warnings
from api.deps import AppState
from api.errors import install_error_handlers
from api.guards import RequestHeadLimits, StrictJSONBodies
from api.observability import fastapi_telemetry, install_observability
from api.routes import (
    audit,
    bpmn,
    codec,
    diagrams,
    events,
    executions,
    health,
    live,
    metrics,
    prometheus,
    segments,
    simulations,
    triggers,
    users,
    workflow_runs,
    workflows,
)
from journey.core.config import Settings, get_settings
from journey.core.db.engine import create_db_engine, make_session_factory
from journey.core.kafka.producers import ProducerHolder
from journey.core.temporal.client import connect_client


def create_app(settings: Settings | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        resolved = settings or get_settings()
        log_auth_warnings(resolved)
        engine = create_db_engine(resolved.resolved_database_url, echo=resolved.database_echo)
        # Lazy: the gateway starts, and /health reports Temporal down, while Temporal is away.
        client = await connect_client(resolved, lazy=True)
        # One producer for the process; it connects on first use, so Kafka may be away at start.
        # The holder replaces it when it stops delivering while the brokers answer (e.g. a
        # broker that lost its idempotent-producer state); `AppState.producer` follows it.
        producers = ProducerHolder(
            resolved,
            # Routes that use `state.producer` without a lease finish within this.
            retire_grace=resolved.kafka_ack_timeout_seconds + 20,
            on_replace=lambda fresh: setattr(app.state.journey, "producer", fresh),
            **{"message.timeout.ms": int(resolved.kafka_ack_timeout_seconds * 1000)},
        )
        app.state.producers = producers
        app.state.journey = AppState(
            settings=resolved,
            engine=engine,
            session_factory=make_session_factory(engine),
            temporal=client,
            producer=producers.get(),
        )
        if request_metrics is not None:
            request_metrics.attach_sources(resolved, app.state.journey.session_factory)
        try:
            yield
        finally:
            if request_metrics is not None:
                await asyncio.to_thread(request_metrics.detach_sources)
            await asyncio.to_thread(producers.close, 10)
            engine.dispose()

    observed = settings or get_settings()
    app = FastAPI(
        title="Journey",
        summary="Durable customer-lifecycle journeys on Temporal and Kafka.",
        version="0.1.0",
        lifespan=lifespan,
        telemetry=fastapi_telemetry(observed),
    )
    # Inside the body limit that install_error_handlers adds (middleware added later wraps
    # what was added before), so it never buffers more than the limit.
    app.add_middleware(StrictJSONBodies)
    install_error_handlers(app)
    app.add_middleware(AuditMiddleware)
    # Request spans and metrics, and /metrics (api/observability.py).
    request_metrics = install_observability(app, observed)
    app.state.metrics = request_metrics
    if request_metrics is not None:
        app.include_router(prometheus.router)
    app.include_router(health.router)
    # Before every router with `/api/workflows/{id}/...` paths: `/import/bpmn` is not an id.
    app.include_router(bpmn.router)
    app.include_router(workflow_runs.router)
    app.include_router(executions.router)
    app.include_router(live.router)
    app.include_router(codec.router)
    app.add_middleware(codec.CodecCors)  # CORS for the Temporal UI, on /api/codec only
    app.include_router(audit.router)
    app.include_router(workflows.router)
    app.include_router(diagrams.router)
    app.include_router(simulations.router)
    app.include_router(events.router)
    app.include_router(triggers.router)
    app.include_router(segments.router)
    app.include_router(users.router)
    app.include_router(metrics.router)
    # Added last, so outermost: an over-long URL or header block is refused before any other
    # middleware (CORS, metrics, audit) or route handles or records it.
    app.add_middleware(
        RequestHeadLimits,
        max_url_bytes=observed.api_max_url_bytes,
        max_header_bytes=observed.api_max_header_bytes,
    )
    return app

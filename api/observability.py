"""The gateway's part of operating Journey: request metrics, request spans, and /metrics.

`install_observability` is called once by `create_app`. Request counts and latencies are taken
by a pure ASGI middleware (like the audit one) because the route template, which labels them,
is only known once routing has happened; requests no route matched are counted under
`unmatched` so random paths cannot create series.
"""

from __future__ import annotations

import time

from fastapi import FastAPI
from fastapi.telemetry import TelemetryConfig
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from journey.core.config import Settings
from journey.core.telemetry.metrics import ApiMetrics
from journey.core.telemetry.tracing import instrument_app

__all__ = ["RequestMetricsMiddleware", "fastapi_telemetry", "install_observability"]

# FastAPI traces by itself whenever the process has a TracerProvider; a gateway whose settings
# say no tracing must not, even in a process where another component traces (tests, bench).
NO_NATIVE_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}


def fastapi_telemetry(settings: Settings) -> TelemetryConfig | None:
    """`FastAPI(telemetry=...)`: off with tracing off; with it on, FastAPI's defaults, which
    leave request spans to the OpenTelemetry instrumentation `install_observability` adds."""
    return None if settings.tracing_enabled else NO_NATIVE_TELEMETRY


class RequestMetricsMiddleware:
    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets if the app raises before answering

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            route = getattr(scope.get("route"), "path", None)
            self.metrics.observe(scope["method"], route, status, time.perf_counter() - started)


def install_observability(app: FastAPI, settings: Settings) -> ApiMetrics | None:
    """Request spans (when tracing is on) and request metrics (when /metrics is on); -> the
    metrics, whose scrape-time sources the lifespan attaches."""
    instrument_app(app, settings)
    if not settings.metrics_enabled:
        return None
    metrics = ApiMetrics()
    app.add_middleware(RequestMetricsMiddleware, metrics=metrics)
    return metrics

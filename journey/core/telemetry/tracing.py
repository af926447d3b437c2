"""Traces: one OpenTelemetry TracerProvider per process, exporting where the settings say.

OpenTelemetry lets a process set its global TracerProvider only once. `configure_tracing`
therefore creates it on the first call and afterwards only adds exporters: each service calls
it once at start with its settings' exporter, while the tests and the benchmark, which host
every component in one process, add an in-memory or discarding exporter the same way. A
provider some other tool already installed (e.g. `opentelemetry-instrument`) is used as it is.

Whether a component is instrumented (the Temporal interceptor, the FastAPI and httpx
instrumentation, the consumer's and the SMTP spans) is decided by its own settings
(`tracing_enabled`), not by whether a provider exists, so a component with tracing off pays
nothing even in a process where another one traces.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

from journey.core.config import Settings

if TYPE_CHECKING:
    import httpx
    from fastapi import FastAPI

__all__ = [
    "TRACER_NAME",
    "configure_tracing",
    "instrument_app",
    "instrument_http_client",
    "span_exporter",
    "tracer",
]

TRACER_NAME = "journey"
# Scraped and polled constantly; a span per probe would drown the traces that matter.
UNTRACED_ROUTES = "/health$,/metrics$"  # regular expressions searched in the URL

_lock = threading.Lock()
_exporters: list[SpanExporter] = []


def span_exporter(settings: Settings) -> SpanExporter:
    """The exporter `tracing_exporter` names (it must not be `none`)."""
    if settings.tracing_exporter == "console":
        return ConsoleSpanExporter()
    if settings.tracing_exporter == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter(endpoint=settings.otlp_endpoint)
    raise ValueError(f"tracing exporter {settings.tracing_exporter!r} exports nothing")


def configure_tracing(
    settings: Settings,
    service: str,
    *,
    exporter: SpanExporter | None = None,
    batch: bool = True,
) -> TracerProvider | None:
    """Make sure the process has an SDK TracerProvider and that `exporter` (default: the one
    the settings name) receives its spans; None when tracing is off and no exporter is given.

    `service` names the process in every span (`service.name`, e.g. `journey-worker`); only
    the first call's name and sampling ratio count. `batch=False` exports each span as it
    ends (tests read them at once); services batch, off the hot path.
    """
    if exporter is None:
        if not settings.tracing_enabled:
            return None
        exporter = span_exporter(settings)
    with _lock:
        provider = _global_provider(settings, service)
        if not any(known is exporter for known in _exporters):
            processor = BatchSpanProcessor(exporter) if batch else SimpleSpanProcessor(exporter)
            provider.add_span_processor(processor)
            _exporters.append(exporter)
    return provider


def _global_provider(settings: Settings, service: str) -> TracerProvider:
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        return current
    provider = TracerProvider(
        resource=Resource.create({SERVICE_NAME: service}),
        sampler=ParentBased(TraceIdRatioBased(settings.tracing_sample_ratio)),
    )
    trace.set_tracer_provider(provider)
    return provider


def tracer(settings: Settings) -> trace.Tracer:
    """Journey's own tracer when tracing is on, else one that records nothing at no cost."""
    if settings.tracing_enabled:
        return trace.get_tracer(TRACER_NAME)
    return trace.NoOpTracer()


def instrument_http_client(client: httpx.AsyncClient, settings: Settings) -> None:
    """A span per request on `client` and the W3C `traceparent` header on the wire."""
    if settings.tracing_enabled:
        from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

        HTTPXClientInstrumentor.instrument_client(client)


def instrument_app(app: FastAPI, settings: Settings) -> None:
    """A server span per request, continuing a caller's `traceparent`."""
    if settings.tracing_enabled:
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

        # Without a span per ASGI message: they say nothing the request span does not.
        FastAPIInstrumentor.instrument_app(
            app, excluded_urls=UNTRACED_ROUTES, exclude_spans=["receive", "send"]
        )

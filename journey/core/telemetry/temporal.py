"""What the Temporal client factory adds for operability: the SDK's tracing interceptor and a
runtime that serves the SDK's own Prometheus metrics.

The interceptor on the client is also taken by every worker built on that client: it carries
the W3C trace context in Temporal headers from `StartWorkflow` through the workflow (whose
spans it records without breaking determinism) to each `RunActivity`.
"""

from __future__ import annotations

import threading

from temporalio.client import Interceptor
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from journey.core.config import Settings

__all__ = ["client_interceptors", "metrics_runtime"]

_lock = threading.Lock()
_runtimes: dict[str, Runtime] = {}


def client_interceptors(settings: Settings) -> list[Interceptor]:
    if not settings.tracing_enabled:
        return []
    from temporalio.contrib.opentelemetry import TracingInterceptor

    return [TracingInterceptor()]


def metrics_runtime(settings: Settings) -> Runtime | None:
    """A runtime serving the SDK's metrics (workers' slots, polls, task latencies, activity
    and workflow outcomes) on `temporal_metrics_address`; None when unset.

    One per address and process: the runtime binds the port for as long as the process lives.
    Prometheus conventions (`_total` counters, durations in seconds) so the lines merge
    cleanly into the API's /metrics.
    """
    address = settings.temporal_metrics_address
    if not address:
        return None
    with _lock:
        if address not in _runtimes:
            config = PrometheusConfig(
                bind_address=address, counters_total_suffix=True, durations_as_seconds=True
            )
            _runtimes[address] = Runtime(telemetry=TelemetryConfig(metrics=config))
        return _runtimes[address]

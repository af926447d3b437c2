"""The API process's Prometheus registry: its own request metrics plus the shared sources.

Request counts and latencies are the only per-process metrics (each API replica reports its
own; sum them in PromQL). Everything else is read at scrape time from the database, Kafka and
the worker (collectors.py), so the numbers agree whichever replica is scraped. A registry per
app, not prometheus_client's global one: tests and benchmarks build several apps in one
process, and each must report only its own requests.
"""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from journey.core.config import Settings
from journey.core.db.engine import SessionFactory
from journey.core.telemetry.collectors import DatabaseCollector, KafkaCollector, WorkerCollector

__all__ = ["ApiMetrics"]

# Route templates, not raw paths: one series per endpoint, however many ids it is called with.
UNMATCHED_ROUTE = "unmatched"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class ApiMetrics:
    def __init__(self) -> None:
        # No `_created` series next to every counter: Prometheus does not need them, and they
        # double what a scrape carries. (A process-wide switch of prometheus_client.)
        disable_created_metrics()
        self.registry = CollectorRegistry()
        for standard in (ProcessCollector, PlatformCollector, GCCollector):
            standard(registry=self.registry)
        self._requests = Counter(
            "journey_api_requests",
            "HTTP requests the API answered, by method, route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self._latency = Histogram(
            "journey_api_request_duration_seconds",
            "Time from request to the end of the response, by method and route template",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._sources: list[Collector] = []
        self._kafka: KafkaCollector | None = None

    def observe(self, method: str, route: str | None, status: int, seconds: float) -> None:
        route = route or UNMATCHED_ROUTE
        self._requests.labels(method, route, str(status)).inc()
        self._latency.labels(method, route).observe(seconds)

    def attach_sources(self, settings: Settings, session_factory: SessionFactory) -> None:
        """Register the scrape-time sources (the lifespan owns the clients they need)."""
        self._kafka = KafkaCollector(settings)
        self._sources = [DatabaseCollector(session_factory), self._kafka]
        if settings.temporal_metrics_address:
            self._sources.append(WorkerCollector(settings))
        for source in self._sources:
            self.registry.register(source)

    def detach_sources(self) -> None:
        for source in self._sources:
            self.registry.unregister(source)
        self._sources = []
        if self._kafka is not None:
            self._kafka.close()
            self._kafka = None

    def exposition(self) -> bytes:
        """The text format; blocking (database, Kafka, worker), so run it in a thread."""
        return generate_latest(self.registry)

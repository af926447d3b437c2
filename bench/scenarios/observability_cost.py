"""observability_cost: journey throughput with tracing and metrics on, against both off.

The workload is journey_throughput's: the five-node reference journey (condition,
update_attributes, webhook, email, end) for N distinct users, 200 in flight, every side effect
counted at its destination. **Baseline** runs it as shipped by default: tracing off, no SDK
metrics, nobody scraping. **Ours** runs it with everything on:

- tracing: the SDK's tracing interceptor on the client and worker, the httpx instrumentation on
  the webhook client and the SMTP span, every span recorded by the SDK and handed to a
  BatchSpanProcessor whose exporter only counts them, so the cost is creating, recording and
  batching spans, not the I/O of a particular backend;
- metrics: the worker's client on a Temporal runtime serving the SDK's Prometheus metrics, and
  the gateway's `/metrics` (database, Kafka and worker sources) scraped every 15 s, a common
  Prometheus `scrape_interval`, from the start of each leg. The gateway runs in the bench's
  own process, so a scrape competes with the worker for the interpreter, which a deployed
  gateway (its own process) does not; the notes give the scrape's own duration.

The two alternate in four legs of N/2 (off, on, on, off) after a warm-up of each, so a change
in machine load or database size hits both alike. The scenario fails unless every leg's effects
all arrived, the on legs exported a StartWorkflow, webhook and SMTP span per journey, the off
legs none, and the scrapes saw the worker's metrics.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field

import httpx
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from prometheus_client.parser import text_string_to_metric_families
from temporalio.client import Client

from api.main import create_app
from bench.core import Result, Scenario, Size
from bench.scenarios.journey_throughput import IN_FLIGHT, measure_ours
from bench.stack import BenchStack, bench_stack, free_port
from journey.core.config import Settings
from journey.core.telemetry.temporal import metrics_runtime
from journey.core.telemetry.tracing import configure_tracing
from journey.core.temporal.client import connect_client

SCRAPE_SECONDS = 15.0
# Spans each journey must have exported in an "on" leg (by name), one of each at least.
TRACED = ("StartWorkflow:journey.Journey", "POST", "smtp send")


class CountingExporter(SpanExporter):
    """Counts spans by name; exports nowhere."""

    def __init__(self) -> None:
        self.names: Counter[str] = Counter()
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        with self._lock:
            self.names.update(span.name for span in spans)
        return SpanExportResult.SUCCESS

    def snapshot(self) -> Counter[str]:
        with self._lock:
            return Counter(self.names)


@dataclass
class Side:
    client: Client
    settings: Settings
    seconds: float = 0.0
    journeys: int = 0


@dataclass
class Scraper:
    """GETs the gateway's /metrics every SCRAPE_SECONDS while a leg runs."""

    http: httpx.AsyncClient
    scrapes: int = 0
    worker_seen: bool = False
    durations: list[float] = field(default_factory=list)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            started = time.monotonic()
            response = await self.http.get("/metrics")
            response.raise_for_status()
            self.durations.append(time.monotonic() - started)
            self.scrapes += 1
            names = {f.name for f in text_string_to_metric_families(response.text)}
            self.worker_seen |= "temporal_workflow_completed" in names
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), SCRAPE_SECONDS)


@asynccontextmanager
async def gateway(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://journey") as http:
            yield http


async def leg(stack: BenchStack, side: Side, n: int, scraper: Scraper | None) -> None:
    """n reference journeys (journey_throughput's measure_ours) with this side's client and
    settings, /metrics scraped meanwhile when `scraper` is given."""
    stop = asyncio.Event()
    scraping = asyncio.create_task(scraper.run(stop)) if scraper is not None else None
    try:
        rate = await measure_ours(stack, n, client=side.client, settings=side.settings)
        side.seconds += n / rate
        side.journeys += n
    finally:
        stop.set()
        if scraping is not None:
            await scraping


async def run(settings: Settings, size: Size) -> list[Result]:
    exporter = CountingExporter()
    async with bench_stack(settings) as stack:
        on_settings = stack.settings.model_copy(
            update={
                # Switches the instrumentation on; the spans go to `exporter`, not stdout.
                "tracing_exporter": "console",
                "temporal_metrics_address": f"127.0.0.1:{free_port()}",
            }
        )
        provider = configure_tracing(on_settings, "journey-bench", exporter=exporter)
        if provider is None:
            raise RuntimeError("tracing could not be configured")

        def spans() -> Counter[str]:
            provider.force_flush()
            return exporter.snapshot()

        on_client = await connect_client(on_settings, runtime=metrics_runtime(on_settings))
        off, on = Side(stack.client, stack.settings), Side(on_client, on_settings)
        async with gateway(on_settings) as http:
            # Warm-up: imports, connections, first queries; not counted.
            await leg(stack, off, 10, None)
            await leg(stack, on, 10, Scraper(http))
            off.seconds = on.seconds = off.journeys = on.journeys = 0
            scraper = Scraper(http)
            half = max(size.n // 2, 1)
            traced: Counter[str] = Counter()
            for side in (off, on, on, off):
                before = spans()
                await leg(stack, side, half, scraper if side is on else None)
                recorded = spans() - before
                if side is off and recorded:
                    raise AssertionError(f"spans recorded with tracing off: {dict(recorded)}")
                traced += recorded
    missing = {name: traced[name] for name in TRACED if traced[name] < on.journeys}
    if missing:
        raise AssertionError(f"{on.journeys} traced journeys exported only {missing}")
    if not scraper.worker_seen:
        raise AssertionError("no scrape of /metrics included the worker's SDK metrics")
    ours, baseline = on.journeys / on.seconds, off.journeys / off.seconds
    scrape_ms = sorted(d * 1000 for d in scraper.durations)
    return [
        Result(
            "observability_cost",
            ours,
            baseline,
            "journeys/s",
            on.journeys,
            notes={
                "on": "tracing (counting exporter, batched) + SDK metrics + /metrics "
                f"scraped every {SCRAPE_SECONDS:g}s",
                "off": "the defaults",
                "spans_per_journey": round(sum(traced.values()) / on.journeys, 1),
                "scrapes": scraper.scrapes,
                "scrape_ms_p50": round(scrape_ms[len(scrape_ms) // 2], 1),
                "in_flight": IN_FLIGHT,
                "legs": "off, on, on, off",
                "database": stack.database_url.split(":")[0],
            },
        )
    ]


SCENARIO = Scenario(
    name="observability_cost",
    description="journeys/s with tracing and metrics on (spans recorded and batched, SDK "
    "metrics, /metrics scraped every 15 s) vs both off, alternating legs",
    run=run,
    quick=Size(quick=True, n=100),
    full=Size(quick=False, n=1000),
)

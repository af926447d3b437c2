"""Kafka to started journeys: the ingest consumer against raw `start_workflow`, same server.

Start rate: N events of distinct users wait on a fresh topic before the product's consumer
(`EventConsumer`, in-process) starts; the clock runs from its partition assignment (the group
join is a one-off cost of a consumer's life, reported in notes) until it has handled all N,
each recorded and started. The baseline starts N runs of the same document, entry event and
search attributes with one client at the consumer's concurrency (`ingest_concurrency` groups
per batch), half before and half after ours. No worker polls either task queue, so only
starting is measured.

Latency: with a worker running a journey whose first node is a webhook, events are produced
at a steady, modest rate, interleaved with direct `start_workflow` calls of the same journey;
each carries its send time, which the webhook echoes back to the receiver.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import func
from sqlmodel import select
from temporalio.client import Client
from temporalio.common import TypedSearchAttributes

from bench.core import Result, Scenario, Size, percentile
from bench.stack import BenchStack, bench_stack
from dsl.events import EventEnvelope
from dsl.triggers import TriggerRule
from dsl.validation import validate_journey
from journey.contracts.runs import JourneyInput, JourneySnapshot
from journey.contracts.search_attributes import start_attributes
from journey.core.config import Settings
from journey.core.db.models import Trigger, TriggerExecution, User
from journey.core.kafka.clients import ensure_topics, make_producer
from journey.ingest.consumer import EventConsumer
from journey.services.definitions import create_workflow, snapshot_of
from journey.services.triggers import rule_columns
from worker import journey_worker
from workflows.journey import JourneyWorkflow

NAME = "kafka_start_rate"
WAIT_SECONDS = 180.0  # a hang guard, not a measurement
WARMUP = 3  # unmeasured sends per latency path
END_ONLY = {"name": "bench start", "start": "done", "nodes": [{"id": "done", "type": "end"}]}


def _first_action(url: str) -> dict[str, Any]:
    # The body echoes the send time and the path so each arrival is matched to its start.
    body = {"sent": "{{ event.properties.sent }}", "via": "{{ event.properties.via }}"}
    return {
        "name": "bench first action",
        "start": "hook",
        "nodes": [
            {"id": "hook", "type": "webhook", "url": url, "body": body, "next": "done"},
            {"id": "done", "type": "end"},
        ],
    }


def _attributes(snapshot: JourneySnapshot, user_id: str) -> TypedSearchAttributes:
    # What journey.starter sets on every run: the baselines start the very same runs, so the
    # gap is the consumer's own work, not Temporal indexing more for Journey.
    return start_attributes(snapshot.journey_id, snapshot.version, user_id)


def _phase(settings: Settings, tag: str) -> Settings:
    """Fresh topics, group and task queue, so one phase never sees another's events or runs."""
    name = f"bench-{tag}-{uuid.uuid4().hex[:8]}"
    return settings.model_copy(
        update={
            "kafka_events_topic": name,
            "kafka_dead_letter_topic": f"{name}.dlq",
            "kafka_emitted_topic": f"{name}.emitted",
            "kafka_consumer_group": name,
            "temporal_task_queue": name,
        }
    )


def _define(stack: BenchStack, document: dict[str, Any], event_type: str) -> JourneySnapshot:
    """An active journey and a trigger that starts it (creating the profile) per event."""
    validated = validate_journey(document)
    assert validated.document is not None, validated.problems
    columns = rule_columns(TriggerRule(event_type=event_type, create_profile=True))
    with stack.session_factory() as session:
        row = create_workflow(
            session, document=validated.document, created_by="bench", status="active"
        )
        session.add(Trigger(name=f"bench {event_type}", workflow_id=row.id, **columns))
        session.commit()
        return snapshot_of(row)


def _started_decisions(stack: BenchStack, event_type: str) -> int:
    query = select(func.count()).select_from(TriggerExecution).join(Trigger)
    query = query.where(Trigger.event_type == event_type, TriggerExecution.decision == "started")
    with stack.session_factory() as session:
        return int(session.exec(query).one())


async def _until(check: Callable[[], Any], what: str, expected: Any = True) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while (value := await check()) != expected:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: {value}, expected {expected}")
        await asyncio.sleep(0.01)


async def _visible(client: Client, queue: str, n: int) -> None:
    """Temporal's own count of runs on the queue (visibility lags a little behind starts)."""

    async def count() -> int:
        return (await client.count_workflows(f'TaskQueue = "{queue}"')).count

    await _until(count, f"runs visible on {queue}", n)


async def _consumer_seconds(stack: BenchStack, n: int, leg: int) -> tuple[float, float]:
    """Seconds for a fresh consumer to handle n events (from its partition assignment), and
    the seconds it took to join the group before that."""
    settings = _phase(stack.settings, "rate")
    await asyncio.to_thread(ensure_topics, settings)
    event_type = f"bench.rate{leg}"  # each leg its own trigger: one run per event
    _define(stack, END_ONLY, event_type)
    producer = make_producer(settings)
    for i in range(n):
        event = EventEnvelope(type=event_type, user_id=f"k{leg}-{i}", properties={"i": i})
        producer.produce(
            settings.kafka_events_topic,
            event.model_dump_json().encode(),
            key=event.user_id.encode(),
        )
        producer.poll(0)
    if await asyncio.to_thread(producer.flush, 30) != 0:
        raise RuntimeError("events were not all delivered to the broker")
    consumer = EventConsumer(settings, stack.session_factory, stack.client)
    stop = asyncio.Event()
    created = time.monotonic()
    task = asyncio.create_task(consumer.run(stop))
    try:
        if not await asyncio.to_thread(consumer.assigned.wait, 60):
            raise RuntimeError("the consumer was never assigned partitions")
        begun = time.monotonic()

        async def handled() -> bool:
            return consumer.tally.events >= n or task.done()

        await _until(handled, "handled events")
        elapsed = time.monotonic() - begun
    finally:
        stop.set()
        await asyncio.wait_for(task, 60)
    tally = consumer.tally
    started = await asyncio.to_thread(_started_decisions, stack, event_type)
    if tally.started != n or started != n or tally.dead_lettered:
        raise RuntimeError(f"consumer: {tally}, {started} decisions 'started'; expected {n}")
    await _visible(stack.client, settings.temporal_task_queue, n)
    return elapsed, begun - created


async def _raw_seconds(stack: BenchStack, snapshot: JourneySnapshot, n: int) -> float:
    """Seconds for one client to start n runs at the consumer's concurrency."""
    settings = _phase(stack.settings, "raw")
    queue = settings.temporal_task_queue
    events = [
        EventEnvelope(type="bench.raw", user_id=f"r{i}", properties={"i": i}) for i in range(n)
    ]
    requests = [
        JourneyInput(
            journey=snapshot,
            user_id=e.user_id,
            create_profile=True,
            entry_event=e.model_dump(mode="json"),
            throttled_actions=settings.throttled_actions,
        )
        for e in events
    ]
    pending = iter(range(n))

    async def lane() -> None:  # like one of the consumer's concurrently handled user groups
        for i in pending:
            await stack.client.start_workflow(
                JourneyWorkflow.run,
                requests[i],
                id=f"{queue}-{i}",
                task_queue=queue,
                search_attributes=_attributes(snapshot, requests[i].user_id),
            )

    begun = time.monotonic()
    await asyncio.gather(*(lane() for _ in range(settings.ingest_concurrency)))
    elapsed = time.monotonic() - begun
    await _visible(stack.client, queue, n)
    return elapsed


async def _latencies(stack: BenchStack, n: int, rate: float) -> dict[str, list[float]]:
    """Milliseconds from send to webhook arrival per path, n of each, interleaved."""
    settings = _phase(stack.settings, "latency")
    await asyncio.to_thread(ensure_topics, settings)
    snapshot = _define(stack, _first_action(stack.http.url()), "bench.ping")
    with stack.session_factory() as session:  # the same profile lookup on both paths
        session.add_all(User(id=f"d{i}") for i in range(n + WARMUP))
        session.commit()
    producer = make_producer(settings, **{"linger.ms": 0})  # measure Journey, not batching
    consumer = EventConsumer(settings, stack.session_factory, stack.client)
    queue = settings.temporal_task_queue

    def send(i: int, via: str) -> Any:
        user = f"p{i}" if via == "kafka" else f"d{i}"
        props = {"sent": time.monotonic(), "via": via}
        event = EventEnvelope(type="bench.ping", user_id=user, properties=props)
        if via == "kafka":
            producer.produce(
                settings.kafka_events_topic, event.model_dump_json().encode(), key=user.encode()
            )
            return producer.poll(0)
        request = JourneyInput(
            journey=snapshot,
            user_id=user,
            entry_event=event.model_dump(mode="json"),
            throttled_actions=settings.throttled_actions,
        )
        return asyncio.create_task(
            stack.client.start_workflow(
                JourneyWorkflow.run,
                request,
                id=f"direct-{i}",
                task_queue=queue,
                search_attributes=_attributes(snapshot, user),
                request_eager_start=True,  # as start_run
            )
        )

    async def paced(first: int, count: int) -> int:
        """One send per path `rate` times a second (well below what this box can run, so
        latency is not queueing); -> where the arrivals of these begin."""
        before, tick, starts = stack.http.count, time.monotonic(), []
        for i in range(first, first + count):
            await asyncio.sleep(max(0.0, tick - time.monotonic()))
            tick += 1 / rate
            for via in ("kafka", "direct"):
                if (sent := send(i, via)) is not None and via == "direct":
                    starts.append(sent)
        await asyncio.gather(*starts)
        await asyncio.to_thread(producer.flush, 30)

        async def arrived() -> int:
            return stack.http.count - before

        await _until(arrived, "webhooks received", 2 * count)
        return before

    stop = asyncio.Event()
    async with journey_worker(stack.client, settings, stack.session_factory):
        task = asyncio.create_task(consumer.run(stop))
        try:
            if not await asyncio.to_thread(consumer.assigned.wait, 60):
                raise RuntimeError("the consumer was never assigned partitions")
            await paced(0, WARMUP)  # first-use costs (trigger cache, connections) on each path
            before = await paced(WARMUP, n)
        finally:
            stop.set()
            await asyncio.wait_for(task, 60)
    latencies: dict[str, list[float]] = {"kafka": [], "direct": []}
    for arrival, body in zip(stack.http.arrivals[before:], stack.http.bodies[before:], strict=True):
        echoed = json.loads(body)
        latencies[echoed["via"]].append((arrival - float(echoed["sent"])) * 1000)
    if [len(v) for v in latencies.values()] != [n, n]:
        raise RuntimeError(f"webhooks per path: { {k: len(v) for k, v in latencies.items()} }")
    return latencies


def _rate(legs: list[tuple[int, float]]) -> float:
    return sum(count for count, _ in legs) / sum(seconds for _, seconds in legs)


async def run(settings: Settings, size: Size) -> list[Result]:
    latency_n, rate, rounds = size.extra["latency_n"], size.extra["rate"], size.extra["rounds"]
    leg = size.n // rounds
    n = leg * rounds
    async with bench_stack(settings, kafka=True, trigger_refresh_seconds=60.0) as stack:
        # Rounds of baseline-ours-baseline (half a leg each side of ours): Temporal's database
        # grows and the machine's share of the CPU moves during a long run, and neither side
        # should get the fresh start or one long lucky (or unlucky) block.
        snapshot = _define(stack, END_ONLY, "bench.raw")
        ours_legs: list[tuple[int, float]] = []  # (events, seconds)
        raw_legs: list[tuple[int, float]] = []
        joins: list[float] = []
        before, after = leg // 2, leg - leg // 2
        for i in range(rounds):
            raw_legs.append((before, await _raw_seconds(stack, snapshot, before)))
            seconds, join = await _consumer_seconds(stack, leg, i)
            ours_legs.append((leg, seconds))
            joins.append(join)
            raw_legs.append((after, await _raw_seconds(stack, snapshot, after)))
        ours, baseline = _rate(ours_legs), _rate(raw_legs)
        notes: dict[str, Any] = {
            "join_s": round(max(joins), 2),
            "ours_legs": [round(count / seconds, 1) for count, seconds in ours_legs],
            "baseline_legs": [round(count / seconds, 1) for count, seconds in raw_legs],
        }
        lat = await _latencies(stack, latency_n, rate)
    notes |= {
        "concurrency": stack.settings.ingest_concurrency,
        "database": "sqlite" if not stack.is_postgres else "postgresql",
    }
    results = [Result(NAME, ours, baseline, "events/s", n, "higher", "start_rate", notes)]
    for q in (50, 99):
        results.append(
            Result(
                NAME,
                percentile(lat["kafka"], q),
                percentile(lat["direct"], q),
                "ms",
                latency_n,
                "lower",
                f"p{q}",
                {"path": "event -> first webhook", "per_path_per_s": rate},
            )
        )
    return results


SCENARIO = Scenario(
    name=NAME,
    description="Events/s from Kafka to started journeys vs raw start_workflow at the "
    "consumer's concurrency; event -> first webhook latency vs a direct start.",
    run=run,
    quick=Size(quick=True, n=200, extra={"latency_n": 20, "rate": 2.5, "rounds": 1}),
    full=Size(quick=False, n=5000, extra={"latency_n": 300, "rate": 2.5, "rounds": 3}),
)

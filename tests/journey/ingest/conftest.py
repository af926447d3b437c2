"""The consumer against real servers: tansu, the Temporal dev server, a worker, a database.

`IngestStack` owns fresh topics and a consumer group per test, a migrated database, an
in-process journey worker on the test's task queue, and helpers to define journeys and
triggers, produce events, run consumers (in-process or as `journey ingest` processes) and
wait for what they did.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from confluent_kafka import Consumer, KafkaError, Message, Producer, TopicPartition
from sqlalchemy import Engine, func
from sqlmodel import Session, SQLModel, col, select
from temporalio.client import Client

from dsl.events import EventEnvelope
from dsl.triggers import TriggerRule
from dsl.validation import validate_journey
from journey.core.config import Settings
from journey.core.db.engine import (
    SessionFactory,
    create_db_engine,
    make_session_factory,
)
from journey.core.db.models import Trigger, TriggerExecution, User, WorkflowExecution
from journey.core.kafka.clients import ensure_topics
from journey.ingest.consumer import EventConsumer
from journey.services.definitions import create_workflow
from journey.services.triggers import rule_columns
from tests.harness.env import JourneyEnv
from tests.workflows.processes import WorkerProcesses
from worker import journey_worker

# A hang guard only: tests assert counts, never speed.
WAIT_SECONDS = 120.0

END_ONLY = {"name": "hello", "start": "done", "nodes": [{"id": "done", "type": "end"}]}


@dataclass
class IngestStack:
    settings: Settings
    engine: Engine
    sessions: SessionFactory
    env: JourneyEnv
    # The next offset per events partition, from the delivery reports of what was produced.
    produced: dict[int, int] = field(default_factory=dict)

    # ---- definitions -----------------------------------------------------------------------

    def journey(self, document: dict[str, Any] | None = None, *, status: str = "active") -> str:
        result = validate_journey(document or END_ONLY)
        assert result.document is not None, result.problems
        with self.sessions() as session:
            row = create_workflow(
                session, document=result.document, created_by="test", status=status
            )
            return str(row.id)

    def trigger(self, journey_id: str, **rule: Any) -> str:
        rule.setdefault("event_type", "signup")
        columns = rule_columns(TriggerRule.model_validate(rule))
        with self.sessions() as session:
            row = Trigger(
                name=f"t-{uuid.uuid4().hex[:6]}", workflow_id=uuid.UUID(journey_id), **columns
            )
            session.add(row)
            session.commit()
            return str(row.id)

    def user(self, user_id: str, **fields: Any) -> None:
        with self.sessions() as session:
            session.add(User(id=user_id, **fields))
            session.commit()

    # ---- events ----------------------------------------------------------------------------

    def produce(self, events: Sequence[EventEnvelope | bytes], *, key: bytes | None = None) -> None:
        producer = Producer({"bootstrap.servers": self.settings.resolved_kafka_bootstrap})
        for event in events:
            if isinstance(event, EventEnvelope):
                value, message_key = event.model_dump_json().encode(), event.user_id.encode()
            else:
                value, message_key = event, key or b"poison"
            producer.produce(
                self.settings.kafka_events_topic, value, key=message_key, on_delivery=self.delivered
            )
        assert producer.flush(30) == 0

    def delivered(self, error: KafkaError | None, message: Message) -> None:
        """Delivery callback for producers to the events topic: keeps `produced` current."""
        if error is not None:
            raise AssertionError(f"not delivered: {error}")
        partition, offset = message.partition() or 0, message.offset() or 0
        self.produced[partition] = max(self.produced.get(partition, 0), offset + 1)

    # ---- consumers -------------------------------------------------------------------------

    @asynccontextmanager
    async def consumer(
        self,
        settings: Settings | None = None,
        *,
        client: Client | None = None,
        sessions: SessionFactory | None = None,
    ) -> AsyncIterator[EventConsumer]:
        """An in-process consumer; `client`/`sessions` reach Temporal/the database another way
        (e.g. through a tests.harness.proxy.TcpProxy) than the stack's own."""
        consumer = EventConsumer(
            settings or self.settings,
            sessions or self.sessions,
            client or self.env.temporal_client,
        )
        stop = asyncio.Event()
        task = asyncio.create_task(consumer.run(stop))
        try:
            yield consumer
        finally:
            stop.set()
            await asyncio.wait_for(task, 60)

    # ---- observations ----------------------------------------------------------------------

    def count(self, model: type[SQLModel], *where: Any) -> int:
        with Session(self.engine) as session:
            query = select(func.count()).select_from(model)
            for clause in where:
                query = query.where(clause)
            return int(session.exec(query).one())

    def decisions(self, trigger_id: str) -> list[TriggerExecution]:
        with Session(self.engine) as session:
            query = select(TriggerExecution).where(
                TriggerExecution.trigger_id == uuid.UUID(trigger_id)
            )
            return list(session.exec(query.order_by(col(TriggerExecution.event_at))).all())

    def started_ids(self) -> list[str]:
        with Session(self.engine) as session:
            return list(session.exec(select(WorkflowExecution.temporal_workflow_id)).all())

    def committed_offsets(self) -> dict[int, int]:
        """The group's committed offset per events partition (0 when none was committed).

        Read by a consumer that shares the group id but never subscribes: joining the group
        would rebalance the consumer under test."""
        topic = self.settings.kafka_events_topic
        probe = Consumer(
            {
                "bootstrap.servers": self.settings.resolved_kafka_bootstrap,
                "group.id": self.settings.kafka_consumer_group,
                "enable.auto.commit": False,
            }
        )
        try:
            partitions = probe.list_topics(topic, timeout=10).topics[topic].partitions
            committed = probe.committed([TopicPartition(topic, p) for p in partitions], timeout=10)
            return {tp.partition: max(tp.offset, 0) for tp in committed}
        finally:
            probe.close()

    def end_offsets(self) -> dict[int, int]:
        """The next offset per events partition after all that was produced through `produce`
        (or with `delivered` as callback): what `committed_offsets` is once all is handled.

        Taken from delivery reports, not the broker: tansu reports the high watermark of a
        partition whose last batch holds several records as that batch's first offset + 1."""
        partitions = range(self.settings.kafka_topic_partitions)
        return {p: self.produced.get(p, 0) for p in partitions}

    async def wait_for(self, check: Callable[[], bool], what: str) -> None:
        deadline = asyncio.get_running_loop().time() + WAIT_SECONDS
        while not check():
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            await asyncio.sleep(0.1)

    async def wait_for_async(
        self, read: Callable[[], Awaitable[int]], expected: int, what: str
    ) -> None:
        deadline = asyncio.get_running_loop().time() + WAIT_SECONDS
        while (value := await read()) != expected:
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"{what}: {value}, expected {expected}")
            await asyncio.sleep(0.2)

    async def handled(self, consumer: EventConsumer, events: int) -> None:
        tally = consumer.tally
        await self.wait_for(
            lambda: tally.events + tally.dead_lettered >= events, f"{events} handled events"
        )


def ingest_settings(env: JourneyEnv, database_url: str | None = None, **overrides: Any) -> Settings:
    suffix = uuid.uuid4().hex[:8]
    values: dict[str, Any] = {
        "kafka_events_topic": f"events-{suffix}",
        "kafka_dead_letter_topic": f"dlq-{suffix}",
        "kafka_emitted_topic": f"emitted-{suffix}",
        "kafka_consumer_group": f"ingest-{suffix}",
        "trigger_refresh_seconds": 0.2,
    }
    if database_url is not None:
        values["database_url"] = database_url
    values.update(overrides)
    return env.settings.model_copy(update=values)


@asynccontextmanager
async def ingest_stack(
    env: JourneyEnv, database_url: str | None = None, *, worker: bool = True, **overrides: Any
) -> AsyncIterator[IngestStack]:
    """An IngestStack on `database_url` (already migrated; default: the journey_env SQLite file)
    with settings `overrides`, fresh topics and group, and (unless `worker=False`) a worker on
    the test's queue."""
    settings = ingest_settings(env, database_url, **overrides)
    ensure_topics(settings)
    engine = create_db_engine(settings.resolved_database_url)
    sessions = make_session_factory(engine)
    try:
        if not worker:
            yield IngestStack(settings, engine, sessions, env)
            return
        async with journey_worker(env.temporal_client, settings, sessions):
            yield IngestStack(settings, engine, sessions, env)
    finally:
        engine.dispose()


@pytest_asyncio.fixture
async def ingest(journey_env: JourneyEnv) -> AsyncIterator[IngestStack]:
    """SQLite (the journey_env database), fresh topics, a worker on the test's queue."""
    async with ingest_stack(journey_env) as stack:
        yield stack


@pytest_asyncio.fixture
async def ingest_starts(journey_env: JourneyEnv) -> AsyncIterator[IngestStack]:
    """The same without a worker: for tests about starts, whose runs need not execute (their
    task queue is fresh, so nothing ever picks them up)."""
    async with ingest_stack(journey_env, worker=False) as stack:
        yield stack


@pytest.fixture
def ingest_processes(ingest_starts: IngestStack, tmp_path: Path) -> Iterator[WorkerProcesses]:
    """`journey ingest` processes on the stack's settings; none outlives the test."""
    processes = WorkerProcesses(ingest_starts.settings, tmp_path, command="ingest")
    try:
        yield processes
    finally:
        processes.kill_all()

"""Temporal or the database unavailable: the consumer pauses and retries with backoff, stores no
offset it has not finished, and resumes without loss when they return.

The outages are real: the consumer reaches the real Temporal dev server or PostgreSQL through a
tests.harness.proxy.TcpProxy, which the test cuts (live connections reset, new ones refused) and
restores. The worker and the test's own reads use direct connections throughout.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy import make_url
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from dsl.events import EventEnvelope
from journey.contracts.ids import trigger_workflow_id
from journey.core.db.engine import create_db_engine, make_session_factory
from journey.core.db.models import LifecycleEvent, TriggerExecution, WorkflowExecution
from journey.core.temporal.client import DATA_CONVERTER
from tests.harness.database import temporary_database_url
from tests.harness.env import JourneyEnv
from tests.harness.proxy import TcpProxy
from tests.harness.temporal import temporal_target
from tests.journey.ingest.conftest import IngestStack, ingest_stack

EVENTS = 6  # produced while the dependency is down, one user each (handled concurrently)


def signups(prefix: str, count: int = EVENTS) -> list[EventEnvelope]:
    return [EventEnvelope(type="signup", user_id=f"{prefix}{n}") for n in range(count)]


def workflow_ids(trigger: str, events: list[EventEnvelope]) -> set[str]:
    return {trigger_workflow_id(trigger, e.user_id, e.id, once=False) for e in events}


async def temporal_runs(ingest: IngestStack) -> int:
    query = f"TaskQueue = '{ingest.settings.temporal_task_queue}'"
    return (await ingest.env.temporal_client.count_workflows(query)).count


async def started_on_temporal(ingest: IngestStack, workflow_id: str) -> bool:
    """Asked of the server directly (describe is strongly consistent; visibility is not)."""
    try:
        await ingest.env.temporal_client.get_workflow_handle(workflow_id).describe()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
    return True


def proxied_temporal(ingest: IngestStack) -> TcpProxy:
    host, port = temporal_target(ingest.env.temporal_client).rsplit(":", 1)
    return TcpProxy(host, int(port))


async def connect_through(proxy: TcpProxy, ingest: IngestStack) -> Client:
    return await Client.connect(
        proxy.address, namespace=ingest.settings.temporal_namespace, data_converter=DATA_CONVERTER
    )


async def all_committed(ingest: IngestStack, what: str) -> None:
    await ingest.wait_for(lambda: ingest.committed_offsets() == ingest.end_offsets(), what)


async def assert_every_run_started_once(
    ingest: IngestStack, trigger: str, events: list[EventEnvelope]
) -> None:
    expected = workflow_ids(trigger, events)
    completed = WorkflowExecution.status == "completed"
    await ingest.wait_for(
        lambda: ingest.count(WorkflowExecution, completed) == len(expected), "every run to complete"
    )
    started = ingest.started_ids()
    assert len(started) == len(expected) and set(started) == expected  # none lost, none twice
    decisions = ingest.decisions(trigger)
    assert len(decisions) == len(events)
    assert {row.decision for row in decisions} == {"started"}
    assert ingest.count(LifecycleEvent) == len(events)
    await ingest.wait_for_async(lambda: temporal_runs(ingest), len(expected), "Temporal's runs")


# ---- the proxy itself -------------------------------------------------------------------------


async def test_the_proxy_forwards_cuts_and_restores() -> None:
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(1024):
            writer.write(data)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with TcpProxy("127.0.0.1", port) as proxy:
            reader, writer = await asyncio.open_connection(proxy.host, proxy.port)
            writer.write(b"ping")
            assert await reader.readexactly(4) == b"ping"
            await proxy.cut()
            assert await reader.read(1024) == b""  # the live connection is gone
            writer.close()
            with pytest.raises(ConnectionRefusedError):
                await asyncio.open_connection(proxy.host, proxy.port)
            await proxy.restore()
            reader, writer = await asyncio.open_connection(proxy.host, proxy.port)
            writer.write(b"pong")
            assert await reader.readexactly(4) == b"pong"
            writer.close()
            assert proxy.accepted == 2
    finally:
        server.close()
        await server.wait_closed()


# ---- Temporal ---------------------------------------------------------------------------------


async def test_while_temporal_is_down_nothing_starts_or_commits_and_all_starts_after(
    ingest: IngestStack,
) -> None:
    trigger = ingest.trigger(ingest.journey(), create_profile=True)
    warm_up, down = signups("warm-"), signups("down-")
    async with proxied_temporal(ingest) as proxy:
        client = await connect_through(proxy, ingest)
        async with ingest.consumer(client=client) as consumer:
            ingest.produce(warm_up)
            await ingest.wait_for(lambda: consumer.tally.started == EVENTS, "warm-up starts")
            await all_committed(ingest, "the warm-up offsets")
            assert proxy.accepted > 0  # the consumer really talks to Temporal through the proxy
            before = ingest.committed_offsets()

            await proxy.cut()
            ingest.produce(down)
            # More waits than events: some event was retried after a backoff, not dropped.
            await ingest.wait_for(lambda: consumer.outages > EVENTS, "retries during the outage")
            assert consumer.tally.started == EVENTS
            assert consumer.tally.dead_lettered == 0
            assert ingest.committed_offsets() == before
            assert not [
                workflow_id
                for workflow_id in workflow_ids(trigger, down)
                if await started_on_temporal(ingest, workflow_id)
            ]
            # Decided (the database is up), but the starts wait for Temporal.
            waiting = {row.event_id: row.decision for row in ingest.decisions(trigger)}
            assert {waiting.get(event.id, "pending") for event in down} == {"pending"}

            await proxy.restore()
            await ingest.wait_for(
                lambda: consumer.tally.events == 2 * EVENTS, "the events after the outage"
            )
            await all_committed(ingest, "the offsets after the outage")
    assert consumer.tally.dead_lettered == 0
    await assert_every_run_started_once(ingest, trigger, warm_up + down)


async def test_a_consumer_stopped_during_an_outage_leaves_its_batch_to_the_next_one(
    ingest: IngestStack,
) -> None:
    trigger = ingest.trigger(ingest.journey(), create_profile=True)
    down = signups("stopped-")
    async with proxied_temporal(ingest) as proxy:
        client = await connect_through(proxy, ingest)
        await proxy.cut()
        async with ingest.consumer(client=client) as first:
            ingest.produce(down)
            await ingest.wait_for(lambda: first.outages > 0, "the outage to be noticed")
        # Stopped while waiting: nothing committed, so the group reads the batch again.
        assert first.tally.events == 0
        assert set(ingest.committed_offsets().values()) == {0}

        await proxy.restore()
        async with ingest.consumer() as second:
            await ingest.wait_for(lambda: second.tally.events == EVENTS, "the re-read batch")
            await all_committed(ingest, "the offsets of the re-read batch")
    await assert_every_run_started_once(ingest, trigger, down)


# ---- the database -----------------------------------------------------------------------------


@pytest_asyncio.fixture
async def postgres_ingest(journey_env: JourneyEnv, tmp_path: Path) -> AsyncIterator[IngestStack]:
    """An IngestStack on a fresh, migrated PostgreSQL database (skipped without a server)."""
    with temporary_database_url("postgres", tmp_path, migrated=True) as url:
        async with ingest_stack(journey_env, url) as stack:
            yield stack


@pytest.mark.postgres
async def test_while_the_database_is_down_nothing_is_handled_or_committed_until_it_returns(
    postgres_ingest: IngestStack,
) -> None:
    ingest = postgres_ingest
    trigger = ingest.trigger(ingest.journey(), create_profile=True)
    warm_up, down = signups("warm-"), signups("down-")
    url = make_url(ingest.settings.resolved_database_url)
    async with TcpProxy(url.host or "127.0.0.1", url.port or 5432) as proxy:
        proxied_url = url.set(host=proxy.host, port=proxy.port)
        engine = create_db_engine(proxied_url.render_as_string(hide_password=False))
        try:
            async with ingest.consumer(sessions=make_session_factory(engine)) as consumer:
                ingest.produce(warm_up)
                await ingest.wait_for(lambda: consumer.tally.started == EVENTS, "warm-up starts")
                await all_committed(ingest, "the warm-up offsets")
                assert proxy.accepted > 0  # the consumer's queries really go through the proxy
                before = ingest.committed_offsets()

                await proxy.cut()
                ingest.produce(down)
                await ingest.wait_for(
                    lambda: consumer.outages > EVENTS, "retries during the outage"
                )
                assert consumer.tally.events == EVENTS
                assert consumer.tally.dead_lettered == 0
                assert ingest.committed_offsets() == before
                assert ingest.count(LifecycleEvent) == EVENTS  # only the warm-up was recorded
                assert ingest.count(TriggerExecution) == EVENTS
                assert not [
                    workflow_id
                    for workflow_id in workflow_ids(trigger, down)
                    if await started_on_temporal(ingest, workflow_id)
                ]

                await proxy.restore()
                await ingest.wait_for(
                    lambda: consumer.tally.events == 2 * EVENTS, "the events after the outage"
                )
                await all_committed(ingest, "the offsets after the outage")
        finally:
            engine.dispose()
    assert consumer.tally.dead_lettered == 0
    await assert_every_run_started_once(ingest, trigger, warm_up + down)

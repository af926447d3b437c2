"""The Kafka broker restarted under a running consumer and API.

Caveat — tansu, the embedded broker, keeps everything in memory: a restart comes back with no
topics, no committed offsets, no consumer groups and no idempotent-producer state, and events
still on the topic are lost. A real Kafka cluster keeps them (replicated logs); this test
cannot show that, so it shows what tansu allows:

- before the restart, every event the API accepted (202) is consumed (the test waits for
  that, since the restart would lose anything still unread);
- while the broker is down, `POST /api/events` answers 503 — never 202 for an event that
  was not stored;
- after the restart (and `ensure_topics`, as `journey dev` runs it), the same gateway and the
  same `journey ingest` process, neither restarted, carry on: every event answered 202
  starts its run. A client that got 503 sends the same event (same id) again.

The gateway's producer is idempotent (acks=all, enable.idempotence) and the restarted tansu no
longer knows its producer id (UnknownProducerId, which librdkafka 2.16 does not recover from:
the produce times out, or the error turns fatal). The gateway's ProducerHolder
(journey/core/kafka/clients.py) replaces such a producer once the broker answers again, so the
gateway answers 503 for a while, never 500, and then 202 again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from api.auth import Role, create_token
from api.main import create_app
from journey.core.config import Settings
from journey.core.kafka.clients import ensure_topics
from tests.chaos.helpers import report
from tests.harness.chaos_servers import TansuBroker, ThreadedProxy
from tests.harness.env import JourneyEnv
from tests.harness.ports import free_port
from tests.journey.ingest.conftest import IngestStack, ingest_stack
from tests.workflows.processes import WorkerProcesses

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(400)]

BEFORE, DOWN, AFTER = 30, 4, 30  # events posted before, during and after the outage
BATCH = 200  # accepted right before the cut
CUT_SECONDS = 6.0
SECRET = SecretStr("c" * 32)  # signs the operator token of the in-process gateway
RETRIES = 20  # a client's attempts per event after a 503 (one a second)


@asynccontextmanager
async def api_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The real app with its real lifespan (its Kafka producer), in process, as an operator."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        # An error the app does not handle becomes the 500 a real server would send.
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        token = create_token(settings, subject="chaos", role=Role.operator)
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://journey", headers=headers, timeout=60
        ) as client:
            yield client


def signup(event_id: str) -> dict[str, str]:
    return {"id": event_id, "type": "signup", "user_id": f"user-{event_id}"}


async def post_until_accepted(http: httpx.AsyncClient, event_id: str) -> int:
    """POST until 202, as a client told "503, Retry-After" would; returns the 503s seen."""
    for refused in range(RETRIES):
        response = await http.post("/api/events", json=signup(event_id))
        if response.status_code == 202:
            return refused
        assert response.status_code == 503, response.text
        await asyncio.sleep(1)
    raise AssertionError(f"{event_id} still refused after {RETRIES} attempts")


def started_events(ingest: IngestStack, trigger: str) -> set[str]:
    return {str(d.event_id) for d in ingest.decisions(trigger) if d.decision == "started"}


async def test_the_consumer_and_the_api_ride_out_a_broker_restart(
    journey_env: JourneyEnv, tmp_path: Path
) -> None:
    broker = TansuBroker(tmp_path)
    broker.start()
    overrides: dict[str, Any] = {"kafka_bootstrap": broker.bootstrap, "jwt_secret": SECRET}
    try:
        async with ingest_stack(journey_env, worker=False, **overrides) as ingest:
            processes = WorkerProcesses(ingest.settings, tmp_path, command="ingest")
            try:
                await restart_under_load(ingest, broker, processes)
            except AssertionError as err:
                raise AssertionError(f"{err}\n{processes.logs()}\n{broker.logs()}") from err
            finally:
                processes.kill_all()
    finally:
        broker.stop()


async def restart_under_load(
    ingest: IngestStack, broker: TansuBroker, processes: WorkerProcesses
) -> None:
    trigger = ingest.trigger(ingest.journey(), create_profile=True)
    consumer = await processes.start()
    async with api_client(ingest.settings) as http:
        before = [f"before-{n}" for n in range(BEFORE)]
        statuses = [(await http.post("/api/events", json=signup(e))).status_code for e in before]
        assert statuses == [202] * BEFORE
        await ingest.wait_for(lambda: started_events(ingest, trigger) >= set(before), "before")

        broker.kill()
        killed = time.monotonic()
        down = [f"down-{n}" for n in range(DOWN)]
        answers = await asyncio.gather(*(http.post("/api/events", json=signup(e)) for e in down))
        down_statuses = [response.status_code for response in answers]

        broker.start()
        await asyncio.to_thread(ensure_topics, ingest.settings)
        outage = time.monotonic() - killed
        after = [f"after-{n}" for n in range(AFTER)]
        # The gateway that lived through the restart, its producer unknown to the new broker.
        refusals = [await post_until_accepted(http, e) for e in after]

    accepted = set(after)
    await ingest.wait_for(lambda: started_events(ingest, trigger) >= accepted, "after")
    started = started_events(ingest, trigger)
    alive = consumer.poll() is None
    report(
        "broker-restart",
        f"SIGKILL of the tansu broker (memory storage: topics, offsets and groups lost), down "
        f"{outage:.0f}s, restarted on the same port, topics recreated",
        f"before: {BEFORE}/{BEFORE} answered 202, {len(started & set(before))} started; while "
        f"down: {down_statuses.count(503)}/{DOWN} answered 503, {down_statuses.count(202)} "
        f"answered 202; after, the same gateway: {AFTER}/{AFTER} answered 202 "
        f"({sum(refusals)} 503s retried first), {len(started & set(after))} started; "
        f"{len(started & set(down))} refused events started anyway; consumer process "
        f"{'kept running' if alive else 'DIED'}",
    )
    assert down_statuses == [503] * DOWN  # never 202 while nothing can store the event
    assert started >= set(before) | accepted  # every 202 started its run
    assert alive


async def test_nothing_is_lost_across_a_broker_outage_that_keeps_its_data(
    journey_env: JourneyEnv, tmp_path: Path
) -> None:
    """The broker unreachable for a while but not restarted (a network cut: every client goes
    through a proxy, which resets their connections and refuses new ones), as a Kafka broker
    that comes back with its logs would be. Events accepted just before the cut and not yet
    consumed are still there afterwards; the same gateway and the same consumer carry on."""
    proxy = ThreadedProxy("127.0.0.1", free_port())
    broker = TansuBroker(tmp_path, advertised_port=proxy.port)
    proxy.proxy.target_port = broker.port
    await asyncio.to_thread(broker.start)
    overrides: dict[str, Any] = {"kafka_bootstrap": proxy.address, "jwt_secret": SECRET}
    try:
        async with ingest_stack(journey_env, worker=False, **overrides) as ingest:
            processes = WorkerProcesses(ingest.settings, tmp_path, command="ingest")
            try:
                await cut_under_load(ingest, proxy, processes)
            except AssertionError as err:
                raise AssertionError(f"{err}\n{processes.logs()}\n{broker.logs()}") from err
            finally:
                processes.kill_all()
    finally:
        proxy.close()
        broker.stop()


async def cut_under_load(
    ingest: IngestStack, proxy: ThreadedProxy, processes: WorkerProcesses
) -> None:
    trigger = ingest.trigger(ingest.journey(), create_profile=True)
    consumer = await processes.start()
    async with api_client(ingest.settings) as http:
        warm = [f"warm-{n}" for n in range(BEFORE)]
        statuses = [(await http.post("/api/events", json=signup(e))).status_code for e in warm]
        assert statuses == [202] * BEFORE
        await ingest.wait_for(lambda: started_events(ingest, trigger) >= set(warm), "warm-up")

        queued = [f"queued-{n}" for n in range(BATCH)]  # accepted, then cut before consumed
        batch = await http.post("/api/events/batch", json={"events": [signup(e) for e in queued]})
        assert batch.status_code == 202, batch.text
        await asyncio.to_thread(proxy.cut)
        unconsumed = len(set(queued) - started_events(ingest, trigger))
        cut = time.monotonic()
        during = [f"during-{n}" for n in range(DOWN)]
        answers = asyncio.gather(*(http.post("/api/events", json=signup(e)) for e in during))
        await asyncio.sleep(CUT_SECONDS)
        await asyncio.to_thread(proxy.restore)
        outage = time.monotonic() - cut
        during_statuses = [response.status_code for response in await answers]
        after = [f"later-{n}" for n in range(AFTER)]
        refusals = [await post_until_accepted(http, e) for e in after]

    accepted = set(queued) | set(after)
    accepted |= {e for e, s in zip(during, during_statuses, strict=True) if s == 202}
    await ingest.wait_for(lambda: started_events(ingest, trigger) >= accepted, "after the cut")
    started = started_events(ingest, trigger)
    alive = consumer.poll() is None
    report(
        "broker-outage",
        f"every connection to the broker cut (proxy: reset and refused) for {outage:.0f}s, "
        f"{unconsumed}/{BATCH} events of a batch accepted just before still unconsumed",
        f"batch: {len(started & set(queued))}/{BATCH} started; posted during the cut: "
        f"{sorted(during_statuses)}, {len(started & set(during))} started; after: "
        f"{AFTER}/{AFTER} answered 202 by the same gateway ({sum(refusals)} 503s retried "
        f"first), {len(started & set(after))} started; consumer process "
        f"{'kept running' if alive else 'DIED'}",
    )
    assert set(during_statuses) <= {202, 503}
    assert started >= set(warm) | accepted  # nothing the API accepted was lost
    assert alive

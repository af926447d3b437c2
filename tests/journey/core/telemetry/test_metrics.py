"""`GET /metrics` counts what really happened: requests, runs, actions, decisions, Kafka.

Each test scrapes before and after real activity (events through the gateway and tansu, runs
on the dev server, a webhook to the HTTP receiver, mail to the SMTP server) and parses the
answer with prometheus_client's own parser, so the exposition is checked to be valid too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from dsl.events import EventEnvelope
from journey.core.db.models import WorkflowExecution
from journey.core.telemetry.temporal import metrics_runtime
from tests.api.conftest import ApiClientFactory
from tests.harness.env import JourneyEnv
from tests.harness.ports import free_port
from tests.journey.core.telemetry.conftest import observed_stack, webhook_then_email

WAIT_SECONDS = 60.0  # a hang guard only


async def scrape(api: httpx.AsyncClient) -> list[Sample]:
    """/metrics as Prometheus sees it: no credentials."""
    request = api.build_request("GET", "/metrics")
    request.headers.pop("Authorization", None)
    response = await api.send(request)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return [s for family in text_string_to_metric_families(response.text) for s in family.samples]


def value(samples: list[Sample], name: str, **labels: str) -> float:
    """The sum of `name`'s samples whose labels include `labels` (0 when there are none)."""
    return sum(
        s.value
        for s in samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    )


async def until(
    read: Callable[[], Awaitable[list[Sample]]], check: Callable[[list[Sample]], bool], what: str
) -> list[Sample]:
    deadline = asyncio.get_running_loop().time() + WAIT_SECONDS
    while not check(samples := await read()):
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)
    return samples


async def test_requests_runs_actions_and_trigger_decisions_are_counted(
    journey_env: JourneyEnv, api_client_for: ApiClientFactory
) -> None:
    async with observed_stack(journey_env, api_client_for) as stack:
        ingest, api = stack.ingest, stack.api
        journey = ingest.journey(webhook_then_email(journey_env.http_receiver.url("/hook")))
        trigger = ingest.trigger(
            journey, conditions={"field": "event.properties.plan", "op": "eq", "value": "pro"}
        )
        ingest.user("ada", email="ada@example.com")
        ingest.user("bob", email="bob@example.com")
        before = await scrape(api)
        assert value(before, "journey_runs_started_total", journey_id=journey) == 0
        assert value(before, "journey_metrics_database_up") == 1
        assert value(before, "journey_metrics_kafka_up") == 1

        async with ingest.consumer() as consumer:
            for user, plan in (("ada", "pro"), ("bob", "free")):
                event = {"type": "signup", "user_id": user, "properties": {"plan": plan}}
                assert (await api.post("/api/events", json=event)).status_code == 202
            await ingest.handled(consumer, 2)
            await ingest.wait_for(
                lambda: (
                    ingest.count(WorkflowExecution, WorkflowExecution.status == "completed") == 1
                ),
                "the run to complete",
            )
            assert (await api.get(f"/api/workflows/{journey}")).status_code == 200
            assert (await api.get("/no/such/path")).status_code == 404
            after = await until(
                lambda: scrape(api),
                lambda s: (
                    value(s, "journey_consumer_lag") == 0
                    and value(s, "journey_events_consumed_total") == 2
                ),
                "the consumer's commit",
            )

    labels = {"journey_id": journey, "journey": "welcome"}
    assert value(after, "journey_runs_started_total", **labels) == 1
    assert value(after, "journey_runs_completed_total", **labels) == 1
    assert value(after, "journey_runs_failed_total", **labels) == 0
    assert value(after, "journey_runs_running", **labels) == 0
    for action in ("webhook", "email"):
        assert value(after, "journey_action_outcomes_total", type=action, outcome="delivered") == 1
    decided = {"trigger_id": trigger}
    assert value(after, "journey_trigger_decisions_total", decision="started", **decided) == 1
    assert value(after, "journey_trigger_decisions_total", decision="not_matched", **decided) == 1
    assert value(after, "journey_trigger_matches_total", **decided) == 1
    assert value(after, "journey_events_recorded_total") == 2
    # Requests by route template, method and status: ids and unknown paths make no series.
    posted = {"method": "POST", "route": "/api/events", "status": "202"}
    assert value(after, "journey_api_requests_total", **posted) == 2
    assert (
        value(
            after, "journey_api_request_duration_seconds_count", method="POST", route="/api/events"
        )
        == 2
    )
    read = {"method": "GET", "route": "/api/workflows/{workflow_id}", "status": "200"}
    assert value(after, "journey_api_requests_total", **read) == 1
    assert value(after, "journey_api_requests_total", route="unmatched", status="404") == 1
    assert not [s for s in after if journey in s.labels.get("route", "")]


async def test_lag_consumption_and_dead_letters_follow_the_topics(
    journey_env: JourneyEnv, api_client_for: ApiClientFactory
) -> None:
    async with observed_stack(journey_env, api_client_for) as stack:
        ingest, api = stack.ingest, stack.api
        # One message per produce call: tansu reports a multi-record batch's high watermark
        # as its first offset + 1 (tests/journey/ingest/conftest.py).
        for user in ("u1", "u2", "u3"):
            ingest.produce([EventEnvelope(type="visit", user_id=user)])
        ingest.produce([b"not json"], key=b"poison")
        waiting = await scrape(api)
        assert value(waiting, "journey_consumer_lag") == 4
        assert value(waiting, "journey_events_consumed_total") == 0
        assert value(waiting, "journey_events_dead_lettered_total") == 0

        async with ingest.consumer() as consumer:
            await ingest.handled(consumer, 4)
            done = await until(
                lambda: scrape(api),
                lambda s: value(s, "journey_consumer_lag") == 0,
                "the consumer's commit",
            )
    group, topic = ingest.settings.kafka_consumer_group, ingest.settings.kafka_events_topic
    assert value(done, "journey_events_consumed_total", topic=topic) == 4
    assert value(done, "journey_consumer_lag", group=group, topic=topic) == 0
    dead = ingest.settings.kafka_dead_letter_topic
    assert value(done, "journey_events_dead_lettered_total", topic=dead) == 1
    assert value(done, "journey_events_recorded_total") == 3


async def test_the_worker_sdk_metrics_are_part_of_the_scrape(
    journey_env: JourneyEnv, api_client_for: ApiClientFactory
) -> None:
    overrides: dict[str, Any] = {"temporal_metrics_address": f"127.0.0.1:{free_port()}"}
    runtime = metrics_runtime(journey_env.settings.model_copy(update=overrides))
    async with observed_stack(journey_env, api_client_for, runtime=runtime, **overrides) as stack:
        journey = stack.ingest.journey()  # one end node
        stack.ingest.user("ada")
        started = await stack.api.post(f"/api/workflows/{journey}/start", json={"user_id": "ada"})
        assert started.status_code == 201, started.text
        await stack.client.get_workflow_handle(started.json()["temporal_workflow_id"]).result()
        queue = stack.ingest.settings.temporal_task_queue
        samples = await until(
            lambda: scrape(stack.api),
            lambda s: value(s, "temporal_workflow_completed_total", task_queue=queue) >= 1,
            "the worker's completed-workflow counter",
        )
    assert value(samples, "journey_metrics_worker_up") == 1
    assert value(samples, "temporal_worker_task_slots_available", task_queue=queue) > 0


async def test_a_scrape_answers_while_kafka_and_the_worker_are_unreachable(
    journey_env: JourneyEnv, api_client_for: ApiClientFactory
) -> None:
    closed = f"127.0.0.1:{free_port()}"  # nothing listens there
    settings = journey_env.settings.model_copy(
        update={"kafka_bootstrap": closed, "temporal_metrics_address": closed}
    )
    async with api_client_for(settings) as api:
        samples = await asyncio.wait_for(scrape(api), WAIT_SECONDS)
    assert value(samples, "journey_metrics_kafka_up") == 0
    assert value(samples, "journey_metrics_worker_up") == 0
    assert value(samples, "journey_metrics_database_up") == 1
    assert not [s for s in samples if s.name.startswith("journey_consumer_lag")]


async def test_metrics_can_be_turned_off(
    journey_env: JourneyEnv, api_client_for: ApiClientFactory
) -> None:
    settings = journey_env.settings.model_copy(update={"metrics_enabled": False})
    async with api_client_for(settings) as api:
        assert (await api.get("/metrics")).status_code == 404

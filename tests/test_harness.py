"""The harness proves itself: every fixture talks to a real server that can succeed and fail.

If one of these fails, every test built on that fixture is suspect, so they check behaviour the
other tests rely on (isolation, failure modes, settings wiring), never wall-clock durations.
"""

from __future__ import annotations

import socket
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from uuid import uuid4

import aiosmtplib
import httpx
import pytest
from confluent_kafka import Consumer, KafkaException, Message, Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from journey.contracts.search_attributes import ALL
from journey.core.config import Settings
from journey.core.temporal.client import connect_client
from tests.harness import sample_workflows as wf
from tests.harness.env import JourneyEnv, build_settings
from tests.harness.http_receiver import HttpReceiver
from tests.harness.kafka import consumer_config, create_topic
from tests.harness.needs import REQUIRE_ENV, needed_resource, needs, required_resources
from tests.harness.ports import free_port, wait_for_port
from tests.harness.smtp import SmtpCapture
from tests.harness.temporal import running_worker


def shout_worker(client: Client, task_queue: str) -> AbstractAsyncContextManager[Worker]:
    return running_worker(
        client, task_queue, workflows=[wf.ShoutWorkflow], activities=[wf.shout, wf.stamp_attempt]
    )


# ---- ports -----------------------------------------------------------------------------------


def test_free_port_is_bindable_and_wait_for_port_gives_up() -> None:
    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))
    with pytest.raises(TimeoutError, match=str(port)):
        wait_for_port("127.0.0.1", port, timeout=0.2)


# ---- temporal --------------------------------------------------------------------------------


async def test_dev_server_runs_workflow_and_activities(temporal_client: Client, task_queue: str):
    sent_at = datetime(2024, 5, 1, 12, 30, tzinfo=UTC)
    async with shout_worker(temporal_client, task_queue):
        result = await temporal_client.execute_workflow(
            wf.ShoutWorkflow.run,
            wf.ShoutRequest(text="hello", sent_at=sent_at),
            id=f"shout-{uuid4()}",
            task_queue=task_queue,
        )
    assert result == wf.ShoutResult(text="HELLO!", sent_at=sent_at, attempt=1)


async def test_activity_failure_reaches_the_client(temporal_client: Client, task_queue: str):
    refusing = running_worker(
        temporal_client, task_queue, workflows=[wf.RefusingWorkflow], activities=[wf.refuse]
    )
    async with refusing:
        with pytest.raises(WorkflowFailureError) as failure:
            await temporal_client.execute_workflow(
                wf.RefusingWorkflow.run, "no thanks", id=f"r-{uuid4()}", task_queue=task_queue
            )
    assert isinstance(failure.value.cause, ActivityError)
    assert isinstance(failure.value.cause.cause, ApplicationError)
    assert failure.value.cause.cause.type == "Refused"


async def test_dev_server_has_journey_search_attributes(temporal_client: Client):
    response = await temporal_client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=temporal_client.namespace)
    )
    assert {key.name for key in ALL} <= set(response.custom_attributes)


async def test_time_skipping_env_sleeps_three_days(time_skipping_env: WorkflowEnvironment):
    client, queue = time_skipping_env.client, f"test-{uuid4()}"
    async with running_worker(client, queue, workflows=[wf.SleepyWorkflow]):
        slept = await client.execute_workflow(
            wf.SleepyWorkflow.run, 3, id=f"sleepy-{uuid4()}", task_queue=queue
        )
    assert slept >= timedelta(days=3)  # workflow time, not wall-clock time


# ---- kafka -----------------------------------------------------------------------------------


def _consume(consumer: Consumer, count: int, timeout: float = 30.0) -> list[Message]:
    """Poll until `count` messages arrived, committing each synchronously."""
    received: list[Message] = []
    for _ in range(int(timeout / 0.5)):
        if len(received) >= count:
            break
        message = consumer.poll(0.5)
        if message is None:
            continue
        assert message.error() is None, message.error()
        received.append(message)
        consumer.commit(message=message, asynchronous=False)
    return received


def test_kafka_consumer_group_commits_offsets(kafka_bootstrap: str, kafka_topic: str) -> None:
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    for i in range(3):
        producer.produce(kafka_topic, key=b"user-1", value=f"event-{i}".encode())
    assert producer.flush(10) == 0

    group = f"group-{uuid4()}"
    first = Consumer(consumer_config(kafka_bootstrap, group))
    first.subscribe([kafka_topic])
    try:
        values = [m.value() for m in _consume(first, 3)]
    finally:
        first.close()
    assert values == [b"event-0", b"event-1", b"event-2"]

    producer.produce(kafka_topic, value=b"event-3")
    assert producer.flush(10) == 0

    # Same group: resumes after the committed offset, so only the new event arrives.
    second = Consumer(consumer_config(kafka_bootstrap, group))
    try:
        [committed] = second.committed([TopicPartition(kafka_topic, 0)], timeout=10)
        assert committed.offset == 3
        second.subscribe([kafka_topic])
        resumed = _consume(second, 1)
    finally:
        second.close()
    assert [(m.offset(), m.value()) for m in resumed] == [(3, b"event-3")]

    # Another group has its own offsets and reads everything.
    other = Consumer(consumer_config(kafka_bootstrap, f"group-{uuid4()}"))
    other.subscribe([kafka_topic])
    try:
        assert len(_consume(other, 4)) == 4
    finally:
        other.close()


def test_kafka_topics_are_fresh_and_duplicates_fail(kafka_bootstrap: str, kafka_topic: str):
    metadata = AdminClient({"bootstrap.servers": kafka_bootstrap}).list_topics(timeout=10)
    assert kafka_topic in metadata.topics
    with pytest.raises(KafkaException):
        create_topic(kafka_bootstrap, kafka_topic)


# ---- smtp ------------------------------------------------------------------------------------


def _mail(to: str = "ada@example.com") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "journey@example.com"
    message["To"] = to
    message["Subject"] = "Willkommen, Ada ✓"
    message.set_content("Hello Ada, welcome aboard.")
    message.add_alternative("<p>Hello <b>Ada</b></p>", subtype="html")
    return message


async def test_smtp_captures_and_parses_mail(smtp_server: SmtpCapture):
    await aiosmtplib.send(
        _mail(), hostname=smtp_server.host, port=smtp_server.port, username="u", password="p"
    )
    [mail] = await smtp_server.wait_for(1)
    assert mail.mail_from == "journey@example.com"
    assert mail.rcpt_tos == ["ada@example.com"]
    assert mail.subject == "Willkommen, Ada ✓"
    assert mail.body("plain").strip() == "Hello Ada, welcome aboard."
    assert "<b>Ada</b>" in mail.body("html")
    assert smtp_server.logins == [("u", "p")]


@pytest.mark.parametrize("code", [550, 451])
async def test_smtp_rejects_next_recipient_with_chosen_code(smtp_server: SmtpCapture, code: int):
    smtp_server.reject_recipients(1, code=code, message="go away")
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as refused:
        await aiosmtplib.send(_mail(), hostname=smtp_server.host, port=smtp_server.port)
    assert [r.code for r in refused.value.recipients] == [code]
    assert smtp_server.rejected == ["ada@example.com"] and smtp_server.messages == []
    with pytest.raises(TimeoutError):
        await smtp_server.wait_for(1, timeout=0.2)

    await aiosmtplib.send(_mail(), hostname=smtp_server.host, port=smtp_server.port)
    assert len(await smtp_server.wait_for(1)) == 1  # the rejection was used up


# ---- http receiver ---------------------------------------------------------------------------


async def test_http_receiver_records_and_answers(http_receiver: HttpReceiver):
    async with httpx.AsyncClient() as client:
        default = await client.post(
            http_receiver.url("/hooks/a?x=1"), json={"user": 7}, headers={"X-Sig": "abc"}
        )
        http_receiver.respond("/hooks/a", status=503, times=2)
        http_receiver.respond("/hooks/a", status=201, json={"id": 9}, times=1)
        statuses = [(await client.get(http_receiver.url("/hooks/a"))).status_code for _ in "abcd"]
        created = await client.get(http_receiver.url("/hooks/b"))
    assert (default.status_code, default.json()) == (200, {"ok": True})
    assert statuses == [503, 503, 201, 200]
    assert created.status_code == 200
    [first, *_] = await http_receiver.wait_for(6)
    assert (first.method, first.path, first.query) == ("POST", "/hooks/a", {"x": ["1"]})
    assert first.headers["x-sig"] == "abc" and first.json() == {"user": 7}


async def test_http_receiver_standing_response_and_reset(http_receiver: HttpReceiver):
    http_receiver.respond("/down", status=500, body=b"nope")
    async with httpx.AsyncClient() as client:
        answers = [await client.get(http_receiver.url("/down")) for _ in range(3)]
        assert [(r.status_code, r.content) for r in answers] == [(500, b"nope")] * 3
        http_receiver.reset()
        assert http_receiver.requests == []
        assert (await client.get(http_receiver.url("/down"))).status_code == 200


async def test_http_receiver_delay_triggers_client_timeout(http_receiver: HttpReceiver):
    http_receiver.respond("/slow", delay=30, times=1)
    async with httpx.AsyncClient(timeout=httpx.Timeout(30, read=0.5)) as client:
        with pytest.raises(httpx.ReadTimeout):
            await client.post(http_receiver.url("/slow"), content=b"x")
        assert (await client.post(http_receiver.url("/slow"))).status_code == 200
    assert len(await http_receiver.wait_for(2)) == 2


async def test_http_receiver_fail_drops_connection(http_receiver: HttpReceiver):
    http_receiver.fail("/flaky", times=1)
    async with httpx.AsyncClient() as client:
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            await client.post(http_receiver.url("/flaky"), json={"n": 1})
        assert (await client.post(http_receiver.url("/flaky"), json={"n": 2})).status_code == 200
    assert [r.json() for r in await http_receiver.wait_for(2)] == [{"n": 1}, {"n": 2}]
    with pytest.raises(TimeoutError):
        await http_receiver.wait_for(3, timeout=0.2)


# ---- the one env fixture ---------------------------------------------------------------------


def test_settings_ignore_process_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("JOURNEY_TEMPORAL_ADDRESS", "elsewhere:1")
    monkeypatch.setenv("JOURNEY_KAFKA_EVENTS_TOPIC", "leaked")
    (tmp_path / ".env").write_text("JOURNEY_SMTP_PORT=1\n")
    monkeypatch.chdir(tmp_path)
    settings = build_settings(
        data_dir=tmp_path,
        temporal_address="127.0.0.1:7",
        task_queue="q",
        kafka_bootstrap="127.0.0.1:9",
        smtp_host="127.0.0.1",
        smtp_port=25,
    )
    assert settings.temporal_address == "127.0.0.1:7"
    assert settings.kafka_events_topic == Settings.model_fields["kafka_events_topic"].default
    assert settings.smtp_port == 25


async def test_journey_env_settings_reach_every_server(journey_env: JourneyEnv):
    settings = journey_env.settings
    assert isinstance(settings, Settings)
    assert settings.resolved_database_url.startswith(f"sqlite:///{journey_env.data_dir}")

    client = await connect_client(settings)
    async with shout_worker(client, settings.temporal_task_queue):
        result = await client.execute_workflow(
            wf.ShoutWorkflow.run,
            wf.ShoutRequest(text="env", sent_at=datetime.now(UTC)),
            id=f"env-{uuid4()}",
            task_queue=settings.temporal_task_queue,
        )
    assert result.text == "ENV!"

    topics = AdminClient({"bootstrap.servers": settings.resolved_kafka_bootstrap}).list_topics(
        timeout=10
    )
    assert [f"{b.host}:{b.port}" for b in topics.brokers.values()] == [journey_env.kafka_bootstrap]
    await aiosmtplib.send(_mail(), hostname=settings.resolved_smtp_host, port=settings.smtp_port)
    assert len(await journey_env.smtp_server.wait_for(1)) == 1


def test_a_skip_names_what_it_needs_and_a_run_can_require_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reason = needs("postgres", "no server configured")
    assert needed_resource(reason) == "postgres"
    assert needed_resource("this confluent-kafka cannot construct a Message") is None
    with pytest.raises(ValueError, match="unknown test resource"):
        needs("gpu", "none here")
    monkeypatch.setenv(REQUIRE_ENV, "postgres, ipv6")
    assert required_resources() == {"postgres", "ipv6"}
    monkeypatch.setenv(REQUIRE_ENV, "postgres,chromium-nightly")
    with pytest.raises(ValueError, match="chromium-nightly"):
        required_resources()

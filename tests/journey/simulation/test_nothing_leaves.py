"""A simulation sends nothing: proved at the real destinations the settings point at.

The settings name a real SMTP server, a real HTTP receiver (allowed past the SSRF guard), a
real broker with the events and emitted topics created, and a migrated database. A journey
that does every kind of action is simulated; each destination must have received nothing,
while the answer shows each action with what it would have sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from confluent_kafka import Consumer, TopicPartition
from sqlalchemy import create_engine, text

from tests.harness.database import migrated_sqlite
from tests.harness.env import build_settings
from tests.harness.http_receiver import HttpReceiver
from tests.harness.kafka import consumer_config, create_topic
from tests.harness.smtp import SmtpCapture
from tests.journey.simulation.conftest import Simulate

EVERY_ACTION = {
    "name": "Every action",
    "start": "mail",
    "nodes": [
        {
            "id": "mail",
            "type": "email",
            "to": "{{ user.email }}",
            "subject": "Hi {{ user.id }}",
            "text": "body",
            "next": "hook",
        },
        {
            "id": "hook",
            "type": "webhook",
            "url": "RECEIVER",
            "body": {"id": "{{ user.id }}"},
            "next": "pause",
        },
        {"id": "pause", "type": "delay", "duration": "P3D", "next": "tag"},
        {
            "id": "tag",
            "type": "update_attributes",
            "next": "stage",
            "operations": [{"op": "set", "path": "tagged", "value": True}],
        },
        {"id": "stage", "type": "lifecycle_transition", "stage": "Retention", "next": "emit"},
        {
            "id": "emit",
            "type": "emit_event",
            "event_type": "sim.done",
            "payload": {"who": "{{ user.id }}"},
            "next": "done",
        },
        {"id": "done", "type": "end"},
    ],
}
TABLES = (
    "users",
    "deliveries",
    "workflow_executions",
    "lifecycle_events",
    "user_lifecycle_history",
    "audit_log",
)


def high_watermarks(bootstrap: str, topics: Sequence[str]) -> list[int]:
    consumer = Consumer(consumer_config(bootstrap, "simulation-check"))
    try:
        return [
            consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)[1]
            for topic in topics
        ]
    finally:
        consumer.close()


def row_counts(database_url: str) -> dict[str, int]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            return {
                table: int(connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())
                for table in TABLES
            }
    finally:
        engine.dispose()


async def test_no_mail_request_event_or_row_leaves_the_process(
    run_simulation: Simulate,
    tmp_path: Path,
    smtp_server: SmtpCapture,
    http_receiver: HttpReceiver,
    kafka_bootstrap: str,
) -> None:
    events_topic, emitted_topic = create_topic(kafka_bootstrap), create_topic(kafka_bootstrap)
    database_url = f"sqlite:///{(tmp_path / 'journey.db').as_posix()}"
    migrated_sqlite(database_url)
    before = row_counts(database_url)
    settings = build_settings(
        data_dir=tmp_path,
        temporal_address="127.0.0.1:9",
        task_queue="unused",
        kafka_bootstrap=kafka_bootstrap,
        smtp_host=smtp_server.host,
        smtp_port=smtp_server.port,
        database_url=database_url,
        kafka_events_topic=events_topic,
        kafka_emitted_topic=emitted_topic,
    )
    journey = {
        **EVERY_ACTION,
        "nodes": [
            {**node, "url": http_receiver.url("/hook")} if node["id"] == "hook" else node
            for node in EVERY_ACTION["nodes"]  # type: ignore[attr-defined]
        ],
    }
    user = {"id": "ada", "email": "ada@example.com"}
    result = await run_simulation(journey, {"user": user}, settings=settings)

    assert result.status == "completed"
    assert result.effects == {
        "email": 1,
        "webhook": 1,
        "update_attributes": 1,
        "lifecycle_transition": 1,
        "emit_event": 1,
    }
    by_node = {entry.node_id: entry.effect for entry in result.timeline if entry.effect}
    assert by_node["mail"].details["subject"] == "Hi ada"  # type: ignore[union-attr]
    assert by_node["hook"].details["url"] == http_receiver.url("/hook")  # type: ignore[union-attr]
    assert by_node["emit"].details["topic"] == emitted_topic  # type: ignore[union-attr]
    assert by_node["stage"].details["would_publish"]["topic"] == events_topic  # type: ignore[union-attr]

    assert smtp_server.messages == []
    assert http_receiver.requests == []
    assert high_watermarks(kafka_bootstrap, [events_topic, emitted_topic]) == [0, 0]
    assert row_counts(database_url) == before

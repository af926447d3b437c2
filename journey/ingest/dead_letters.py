"""The dead-letter topic: poison messages kept verbatim, with headers saying what and where."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from confluent_kafka import KafkaError, KafkaException, Message

from journey.core.config import Settings
from journey.core.kafka.producers import ProducerHolder

log = logging.getLogger(__name__)

ERROR_HEADER = "journey-error"  # the kind, one of envelopes.POISON_KINDS


class DeadLetterFailed(ConnectionError):
    """The broker did not acknowledge a dead letter; the consumer retries it (transient)."""


class _TooLarge(Exception):
    pass


class DeadLetters:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        # Replaced when it stops delivering while the broker answers
        # (journey/core/kafka/clients.py).
        self._producers = ProducerHolder(settings)
        self.sent = 0

    def send(self, message: Message, kind: str, detail: str) -> None:
        log.warning(
            "dead-lettering %s[%s]@%s: %s: %s",
            message.topic(),
            message.partition(),
            message.offset(),
            kind,
            detail[:200],
        )
        headers: list[tuple[str, str | bytes | None]] = [
            (ERROR_HEADER, kind.encode()),
            ("journey-error-detail", detail[:2000].encode()),
            ("journey-source-topic", (message.topic() or "").encode()),
            ("journey-source-partition", str(message.partition()).encode()),
            ("journey-source-offset", str(message.offset()).encode()),
            ("journey-consumer-group", self._settings.kafka_consumer_group.encode()),
            ("journey-dead-lettered-at", datetime.now(UTC).isoformat().encode()),
        ]
        value = message.value()
        headers += list(message.headers() or [])  # type: ignore[arg-type]
        try:
            self._deliver(value, message.key(), headers)
        except _TooLarge:
            # Larger than the producer or topic allows: keep the evidence, not the body, so a
            # huge message cannot stop the consumer.
            size = str(len(value or b"")).encode()
            self._deliver(None, message.key(), [*headers, ("journey-value-dropped", size)])
        self.sent += 1

    def _deliver(
        self, value: bytes | None, key: bytes | None, headers: list[tuple[str, str | bytes | None]]
    ) -> None:
        """Produce and wait for the broker's acknowledgement: the offset that skips the poison
        is committed later, so the letter must already be safe (poison is rare)."""
        failures: list[KafkaError] = []

        def delivered(error: KafkaError | None, _: Message) -> None:
            if error is not None:
                failures.append(error)

        topic = self._settings.kafka_dead_letter_topic
        with self._producers.lease() as producer:
            try:
                producer.produce(topic, value, key=key, headers=headers, on_delivery=delivered)
                unflushed = producer.flush(30)
            except KafkaException as exc:
                if exc.args and exc.args[0].code() == KafkaError.MSG_SIZE_TOO_LARGE:
                    raise _TooLarge from exc
                self._producers.replace_after_failure(producer, exc)
                raise
            except SystemError as exc:  # how confluent-kafka may surface a fatal error
                self._producers.replace_after_failure(producer, exc)
                raise DeadLetterFailed(f"dead-letter producer failed: {exc}") from exc
            if unflushed or failures:
                if failures and failures[0].code() == KafkaError.MSG_SIZE_TOO_LARGE:
                    raise _TooLarge
                error = KafkaException(failures[0]) if failures else None
                self._producers.replace_after_failure(producer, error)
                reason = failures[0] if failures else "no acknowledgement within 30s"
                raise DeadLetterFailed(f"dead-letter topic did not take the message: {reason}")
            self._producers.succeeded(producer)

    def close(self) -> None:
        self._producers.close(10)

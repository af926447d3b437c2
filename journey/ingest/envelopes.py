"""Kafka messages to event envelopes, or a named reason why a message is poison.

The rules here (size, JSON object, envelope model) are the only ones the consumer applies to a
message; everything that accepts events for it (`POST /api/events`, `journey events send`, a
run's events endpoint) applies the same ones, through the same functions, so nothing is accepted
that the consumer would then dead-letter.

Envelopes produced without an `id` get `topic:partition:offset`, and without a `timestamp`
the broker's timestamp: both are the same on every redelivery, so deduplication and the
workflow ids derived from them hold for producers that send neither (e.g. kcat scripts).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from confluent_kafka import TIMESTAMP_NOT_AVAILABLE, Message
from pydantic import ValidationError

from dsl.events import EventEnvelope
from journey.core.kafka.clients import json_value
from journey.core.strict_json import strict_loads

POISON_KINDS = ("empty", "oversized", "not_json", "invalid_envelope", "processing_failed")


class PoisonMessage(Exception):
    """A message the consumer cannot use: dead-lettered with `kind` and `detail`."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail


def encoded(envelope: EventEnvelope) -> bytes:
    """The message value Journey's producers send for an envelope: the bytes the consumer's
    size limit applies to."""
    return json_value(envelope.model_dump(mode="json"))


def oversized(size: int, max_bytes: int) -> str | None:
    """Why a message value of `size` bytes is too large (`event_max_bytes`), or None."""
    if size <= max_bytes:
        return None
    return f"{size} bytes; the limit is {max_bytes}"


def origin_id(message: Message) -> str:
    return f"{message.topic()}:{message.partition()}:{message.offset()}"


def _broker_time(message: Message) -> datetime | None:
    kind, millis = message.timestamp()
    if kind == TIMESTAMP_NOT_AVAILABLE or millis is None or not 0 <= millis < 253402300800000:
        return None  # none, or beyond datetime's year 9999 (a producer can send any)
    return datetime.fromtimestamp(millis / 1000, UTC)


def _problems(error: ValidationError) -> str:
    return "; ".join(
        f"/{'/'.join(str(part) for part in problem['loc'])}: {problem['msg']}"
        for problem in error.errors()
    )


def parse_message(message: Message, *, max_bytes: int) -> EventEnvelope:
    raw = message.value()
    if not raw:
        raise PoisonMessage("empty", "the message has no value")
    if (too_large := oversized(len(raw), max_bytes)) is not None:
        raise PoisonMessage("oversized", too_large)
    try:
        data: Any = strict_loads(raw)
    except (ValueError, RecursionError) as exc:  # also: NaN, too deep, over-long integers
        raise PoisonMessage("not_json", str(exc)) from None
    if not isinstance(data, dict):
        raise PoisonMessage(
            "invalid_envelope", f"expected a JSON object, got {type(data).__name__}"
        )
    data.setdefault("id", origin_id(message))
    if "timestamp" not in data and (stamp := _broker_time(message)) is not None:
        data["timestamp"] = stamp.isoformat()
    try:
        return EventEnvelope.model_validate(data)
    except ValidationError as exc:
        raise PoisonMessage("invalid_envelope", _problems(exc)) from None

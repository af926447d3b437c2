"""Kafka messages to event envelopes, or a named reason why a message is poison.

Envelopes produced without an `id` get `topic:partition:offset`, and without a `timestamp`
the broker's timestamp: both are the same on every redelivery, so deduplication and the
workflow ids derived from them hold for producers that send neither (e.g. kcat scripts).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from confluent_kafka import TIMESTAMP_NOT_AVAILABLE, Message
from pydantic import ValidationError

from dsl.events import EventEnvelope

POISON_KINDS = ("empty", "oversized", "not_json", "invalid_envelope", "processing_failed")


class PoisonMessage(Exception):
    """A message the consumer cannot use: dead-lettered with `kind` and `detail`."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail


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
    if len(raw) > max_bytes:
        raise PoisonMessage("oversized", f"{len(raw)} bytes; the limit is {max_bytes}")
    try:
        data: Any = json.loads(raw)
    except (ValueError, RecursionError) as exc:  # also: too deep, over-long integers
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

"""The event envelope: what arrives on Kafka and through `POST /api/events`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

from pydantic import BaseModel, ConfigDict, Field

from dsl.common import UserId


class EventEnvelope(BaseModel):
    """One customer event. `id` is the dedupe key; `user_id` is also the Kafka message key."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(default_factory=lambda: str(uuid4()), min_length=1, max_length=255)
    type: str = Field(min_length=1, max_length=255, pattern=r"^[A-Za-z0-9_.:\-]+$")
    user_id: UserId
    timestamp: datetime = Field(default_factory=lambda: datetime.now(UTC))
    properties: dict[str, Any] = Field(default_factory=dict)


def event_json_schema() -> dict[str, Any]:
    """The envelope as JSON Schema, for producers outside Python (schemas/event.schema.json)."""
    schema = EventEnvelope.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://journey.dev/schemas/event.schema.json"
    schema["description"] = (
        "A customer event on the Journey events topic (Kafka key: user_id). "
        "`id` is the dedupe key; a missing id or timestamp is filled in by Journey's API."
    )
    return schema

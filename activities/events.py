"""The emit-event action: publish a journey event to the emitted-events topic and await the ack.

Downstream systems consume `journey.emitted` the same way Journey consumes `journey.events`, so
the message uses the same envelope (`id`, `type`, `user_id`, `timestamp`, `properties`) keyed by
user id, which keeps one user's events ordered on one partition.

The event id is a UUIDv5 of the effect key: a retry after a lost acknowledgement republishes
the *same* id, so consumers that dedupe on `id` (as Journey's own ingest does) see it once. The
activity only returns after the broker acknowledged the write (acks=all), so a completed step
means the event is durable; broker errors propagate and are retried by Temporal. After the ack
the effect ledger records it, so a re-run activity does not publish again; only a crash between
the ack and that record republishes (with the same id).
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

from confluent_kafka import Producer
from temporalio import activity

from activities.rendering import RenderLimits, render_value_async
from journey.contracts.actions import EMIT_EVENT, EmitEventInput, EmitEventResult
from journey.core.config import Settings
from journey.core.kafka.clients import produce_json
from journey.core.ledger import Ledger

__all__ = ["EVENT_ID_NAMESPACE", "EventActivities", "event_id_for"]

# Fixed forever: changing it would give retried effects new ids and defeat deduplication.
EVENT_ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:journey:emitted-event")
PRODUCE_TIMEOUT_SECONDS = 30.0


def event_id_for(effect_key: str) -> str:
    return str(uuid.uuid5(EVENT_ID_NAMESPACE, effect_key))


class EventActivities:
    def __init__(self, settings: Settings, producer: Producer, ledger: Ledger) -> None:
        self._settings = settings
        self._producer = producer
        self._ledger = ledger
        self._limits = RenderLimits.from_settings(settings)

    @activity.defn(name=EMIT_EVENT)
    async def emit_event(self, request: EmitEventInput) -> EmitEventResult:
        meta = request.meta
        recorded = await asyncio.to_thread(self._ledger.lookup, meta.effect_key)
        if recorded is not None:
            return EmitEventResult.model_validate(recorded.result)
        event_id = event_id_for(meta.effect_key)
        # Type and payload render together, in one hop off the event loop.
        payload = request.payload if request.payload is not None else {}
        event_type, properties = await render_value_async(
            [request.event_type, payload], request.context, limits=self._limits
        )
        envelope: dict[str, Any] = {
            "id": event_id,
            "type": event_type,
            "user_id": meta.user_id,
            "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "properties": properties,
        }
        topic = self._settings.kafka_emitted_topic
        partition, offset = await produce_json(
            self._producer,
            topic,
            envelope,
            key=meta.user_id,
            headers={
                "journey-effect-key": meta.effect_key,
                "journey-id": meta.journey_id,
                "workflow-id": meta.workflow_id,
                "run-id": meta.run_id,
            },
            timeout=PRODUCE_TIMEOUT_SECONDS,
        )
        result = EmitEventResult(event_id=event_id, topic=topic, partition=partition, offset=offset)
        await asyncio.to_thread(
            self._ledger.record,
            meta.effect_key,
            kind="emit_event",
            outcome="delivered",
            result=result.model_dump(mode="json"),
            **meta.origin(),
        )
        return result

"""`POST /api/events`: customer events into Kafka, the same path every other producer uses.

Events are validated here (a bad batch is refused whole, with the path of each bad field, so
nothing is half-accepted) by the consumer's own rules (the envelope model, and its size limit
measured on the bytes it will receive: an event the consumer would dead-letter is refused here,
413), keyed by user id so one user's events stay ordered on one partition,
and answered only after the brokers acknowledged them (acks=all): a 202 means the event is
durable and the consumer will see it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, HTTPException, Request, status
from pydantic import BaseModel, ConfigDict, Field, JsonValue

from api.auth import Role, require_role
from api.deps import AppState, StateDep
from api.errors import problem_responses
from api.guards import check_event_size
from dsl.events import EventEnvelope
from journey.core.kafka.clients import ProduceFailed
from journey.core.kafka.producers import ProducerHolder

router = APIRouter(tags=["events"], dependencies=[require_role(Role.operator)])

MAX_BATCH = 500
EVENT_EXAMPLE: dict[str, JsonValue] = {
    "type": "signup",
    "user_id": "ada",
    "properties": {"plan": "pro", "source": "landing-page"},
}
EVENT_EXAMPLES = {
    "signup": {"summary": "id and timestamp are filled in when omitted", "value": EVENT_EXAMPLE},
    "with id": {
        "summary": "an explicit id makes retries of the same event harmless",
        "value": {**EVENT_EXAMPLE, "id": "evt-1", "timestamp": "2026-11-22T10:00:00Z"},
    },
}


class EventBatch(BaseModel):
    events: list[EventEnvelope] = Field(min_length=1, max_length=MAX_BATCH)

    model_config = ConfigDict(json_schema_extra={"examples": [{"events": [EVENT_EXAMPLE]}]})


class Accepted(BaseModel):
    """The ids of the events now on the events topic."""

    ids: list[str]


def get_producers(request: Request) -> ProducerHolder:
    """The lifespan's producer holder (it replaces a producer that stopped delivering)."""
    producers: ProducerHolder = request.app.state.producers
    return producers


ProducersDep = Annotated[ProducerHolder, Depends(get_producers)]


async def _publish(
    state: AppState, producers: ProducerHolder, events: list[EventEnvelope], *, batch: bool
) -> Accepted:
    settings = state.settings
    for index, event in enumerate(events):
        check_event_size(
            event, settings.event_max_bytes, f"/events/{index}" if batch else "the event"
        )
    messages = [(event.user_id, event.model_dump(mode="json")) for event in events]
    try:
        # The producer's message timeout (the ack timeout) ends a wait first; this bounds a stall.
        timeout = settings.kafka_ack_timeout_seconds + 5
        await producers.produce_many(settings.kafka_events_topic, messages, timeout=timeout)
    except ProduceFailed as exc:  # any failure: only an acknowledgement earns a 202
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            f"the brokers did not acknowledge the events; nothing to undo, send them again: {exc}",
            headers={"Retry-After": "5"},
        ) from exc
    return Accepted(ids=[event.id for event in events])


@router.post(
    "/api/events",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Accepted,
    responses=problem_responses(413, 422, 503),
    summary="Publish one event",
)
async def publish_event(
    state: StateDep,
    producers: ProducersDep,
    event: Annotated[EventEnvelope, Body(openapi_examples=EVENT_EXAMPLES)],
) -> Accepted:
    return await _publish(state, producers, [event], batch=False)


@router.post(
    "/api/events/batch",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Accepted,
    responses=problem_responses(413, 422, 503),
    summary=f"Publish up to {MAX_BATCH} events, all or none",
)
async def publish_batch(state: StateDep, producers: ProducersDep, batch: EventBatch) -> Accepted:
    return await _publish(state, producers, batch.events, batch=True)


# The design documents' name for the same endpoint: one handler, two paths.
router.add_api_route(
    "/api/metrics/events",
    publish_event,
    methods=["POST"],
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Accepted,
    responses=problem_responses(413, 422, 503),
    summary="Publish one event (the design documents' name for POST /api/events)",
    operation_id="publish_metric_event",
)

"""Events reach the user's running journeys: waits wake on their event, exit criteria stop runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from temporalio.client import WorkflowExecutionStatus

from dsl.events import EventEnvelope
from journey.contracts.runs import JourneyResult, JourneyState
from journey.core.db.models import User, WorkflowExecution
from tests.journey.ingest.conftest import IngestStack

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"

UNTIL_UNSUBSCRIBED: dict[str, Any] = {
    "name": "nurture",
    "start": "pause",
    "exit_criteria": {"field": "event.type", "op": "eq", "value": "unsubscribed"},
    "nodes": [
        {"id": "pause", "type": "delay", "duration": "P7D", "next": "done"},
        {"id": "done", "type": "end"},
    ],
}


def abandoned(user: str, cart: str) -> EventEnvelope:
    return EventEnvelope(
        type="cart.abandoned", user_id=user, properties={"cart_id": cart, "item_count": 2}
    )


def purchase(user: str, cart: str) -> EventEnvelope:
    return EventEnvelope(type="order.completed", user_id=user, properties={"cart_id": cart})


async def test_a_purchase_wakes_the_run_of_its_own_cart_only(ingest: IngestStack) -> None:
    journey = ingest.journey(json.loads((EXAMPLES / "abandoned_cart.json").read_text()))
    trigger = ingest.trigger(
        journey, event_type="cart.abandoned", dedupe_key="event.properties.cart_id"
    )
    ingest.user("ada", email="ada@example.com")
    ingest.user("bob", email="bob@example.com")
    client = ingest.env.temporal_client
    async with ingest.consumer() as consumer:
        ingest.produce([abandoned("ada", "cart-A"), abandoned("ada", "cart-B")])
        await ingest.handled(consumer, 2)
        runs = {row.dedupe_key: row.temporal_workflow_id for row in ingest.decisions(trigger)}
        assert set(runs) == {"cart-A", "cart-B"}
        # Another user's purchase of cart B, and ada's purchase of a third cart: no wake-up.
        ingest.produce([purchase("bob", "cart-B"), purchase("ada", "cart-C")])
        ingest.produce([purchase("ada", "cart-B")])
        await ingest.handled(consumer, 5)
        handle_b = client.get_workflow_handle(str(runs["cart-B"]), result_type=JourneyResult)
        result = await handle_b.result()
    assert result.outcome == "purchased"
    handle_a = client.get_workflow_handle(str(runs["cart-A"]))
    state = await handle_a.query("state", result_type=JourneyState)
    assert (state.status, state.current_nodes) == ("running", ["wait_for_purchase"])
    with ingest.sessions() as session:
        ada = session.get(User, "ada")
        assert ada is not None and ada.attributes == {
            "orders_count": 1,
            "last_order_cart_id": "cart-B",
        }
    await handle_a.cancel()


async def test_exit_criteria_stop_a_run_from_a_kafka_event(ingest: IngestStack) -> None:
    journey = ingest.journey(UNTIL_UNSUBSCRIBED)
    trigger = ingest.trigger(journey, event_type="signup")
    ingest.user("ada")
    ingest.user("bob")
    client = ingest.env.temporal_client
    async with ingest.consumer() as consumer:
        ingest.produce(
            [
                EventEnvelope(type="signup", user_id="ada"),
                EventEnvelope(type="signup", user_id="bob"),
            ]
        )
        await ingest.handled(consumer, 2)
        ingest.produce([EventEnvelope(type="unsubscribed", user_id="ada")])
        await ingest.handled(consumer, 3)
        await ingest.wait_for(
            lambda: ingest.count(WorkflowExecution, WorkflowExecution.status == "completed") == 1,
            "ada's run to end",
        )
    runs = {row.user_id: str(row.temporal_workflow_id) for row in ingest.decisions(trigger)}
    ada = await client.get_workflow_handle(runs["ada"], result_type=JourneyResult).result()
    assert ada.outcome == "exited"
    bob = client.get_workflow_handle(runs["bob"])
    assert (await bob.describe()).status == WorkflowExecutionStatus.RUNNING
    assert consumer.tally.signalled == 1  # bob's run never saw ada's event
    await bob.cancel()

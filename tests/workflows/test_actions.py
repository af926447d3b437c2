"""Every action node type, run by the interpreter on the dev server against real servers."""

from __future__ import annotations

import json
from typing import Any

from confluent_kafka import Consumer

from tests.harness.kafka import consumer_config
from tests.workflows.conftest import JourneyRunner


def all_actions(receiver_url: str) -> dict[str, Any]:
    return {
        "name": "All actions",
        "start": "welcome",
        "nodes": [
            {
                "id": "welcome",
                "type": "email",
                "to": "{{ user.email }}",
                "subject": "Hi {{ user.attributes.first_name }}",
                "text": "Plan: {{ vars.plan }}",
                "html": "<p>{{ user.attributes.first_name }}</p>",
                "next": "crm",
            },
            {
                "id": "crm",
                "type": "webhook",
                "url": receiver_url,
                "body": {"user": "{{ user.id }}", "plan": "{{ vars.plan }}"},
                "save_as": "crm_reply",
                "next": "count",
            },
            {
                "id": "count",
                "type": "update_attributes",
                "operations": [
                    {"op": "increment", "path": "logins", "by": 2},
                    {"op": "set", "path": "crm.contact", "value": "{{ vars.crm_reply.contact }}"},
                ],
                "next": "announce",
            },
            {
                "id": "announce",
                "type": "emit_event",
                "event_type": "journey.welcomed",
                "payload": {"contact": "{{ vars.crm_reply.contact }}"},
                "next": "activate",
            },
            {
                "id": "activate",
                "type": "lifecycle_transition",
                "stage": "Activation",
                "reason": "welcomed",
                "next": "done",
            },
            {"id": "done", "type": "end", "outcome": "welcomed"},
        ],
    }


async def test_each_action_reaches_its_real_system(journey_runner: JourneyRunner) -> None:
    env = journey_runner.env
    env.http_receiver.respond("/crm", json={"contact": "c-42"})
    journey_runner.seed_user("u1", attributes={"first_name": "Ada <b>", "logins": 1})

    result = await journey_runner.run(
        all_actions(env.http_receiver.url("/crm")), variables={"plan": "pro"}
    )

    assert result.outcome == "welcomed"
    assert [step.node_id for step in result.step_log] == [
        "welcome",
        "crm",
        "count",
        "announce",
        "activate",
        "done",
    ]
    assert all(step.outcome == "ok" for step in result.step_log)
    mail = env.smtp_server.messages
    assert len(mail) == 1 and mail[0].rcpt_tos == ["u1@example.com"]
    assert mail[0].subject == "Hi Ada <b>"
    assert "&lt;b&gt;" in mail[0].body("html")  # user data is escaped in HTML
    request = env.http_receiver.requests[0]
    assert request.json() == {"user": "u1", "plan": "pro"}
    assert result.variables["crm_reply"] == {"contact": "c-42"}
    user = journey_runner.user("u1")
    assert user.attributes["logins"] == 3
    assert user.attributes["crm"] == {"contact": "c-42"}
    assert user.current_lifecycle_stage == "Activation"

    consumer = Consumer(consumer_config(env.kafka_bootstrap, "test-emitted"))
    try:
        consumer.subscribe([env.settings.kafka_emitted_topic])
        messages = [m for m in consumer.consume(num_messages=10, timeout=15) if not m.error()]
    finally:
        consumer.close()
    emitted = [json.loads(m.value()) for m in messages]
    welcomed = [e for e in emitted if e["type"] == "journey.welcomed" and e["user_id"] == "u1"]
    assert welcomed and welcomed[-1]["properties"] == {"contact": "c-42"}

"""Each BPMN element of the supported subset, and the journey node it becomes."""

from __future__ import annotations

from pathlib import Path

from journey.bpmn import import_bpmn
from journey.bpmn.canonical import document_json
from tests.journey.bpmn.helpers import (
    END,
    START,
    chain,
    document,
    email_task,
    flow,
    mapped,
    nodes_of,
)

ROOT = Path(__file__).resolve().parents[3]
MESSAGES = '<bpmn:message id="m_signup" name="signup"/><bpmn:message id="m_act" name="activated"/>'


def test_none_start_event_starts_at_its_target() -> None:
    journey = mapped(START + email_task("hello") + END + chain("start", "hello", "done"))
    assert journey["start"] == "hello"
    assert [node["id"] for node in journey["nodes"]] == ["hello", "done"]


def test_message_start_event_suggests_a_trigger_with_its_parameters() -> None:
    body = (
        '<bpmn:startEvent id="start">'
        '<bpmn:extensionElements><xflow:Parameter name="conditions" type="condition">'
        'event.properties.plan == "pro"</xflow:Parameter>'
        '<xflow:Parameter name="reentry">once</xflow:Parameter></bpmn:extensionElements>'
        '<bpmn:messageEventDefinition messageRef="m_signup"/></bpmn:startEvent>'
        + END
        + chain("start", "done")
    )
    result = import_bpmn(document(body, definitions=MESSAGES))
    assert result.problems == []
    assert result.suggested_trigger == {
        "event_type": "signup",
        "conditions": {"field": "event.properties.plan", "op": "eq", "value": "pro"},
        "reentry": "once",
    }


def test_timer_start_event_becomes_a_first_delay() -> None:
    body = (
        '<bpmn:startEvent id="start"><bpmn:timerEventDefinition>'
        "<bpmn:timeDuration>PT2H</bpmn:timeDuration></bpmn:timerEventDefinition>"
        "</bpmn:startEvent>" + END + chain("start", "done")
    )
    journey = mapped(body)
    assert journey["start"] == "start"
    assert journey["nodes"][0] == {
        "id": "start",
        "type": "delay",
        "duration": "PT2H",
        "next": "done",
    }


def test_end_events_with_outcome_attribute_parameter_or_terminate() -> None:
    body = (
        START
        + '<bpmn:exclusiveGateway id="g" default="f2"/>'
        + '<bpmn:endEvent id="a" name="Bought" xflow:outcome="bought"/>'
        + '<bpmn:endEvent id="b"><bpmn:extensionElements><xflow:Parameter name="outcome">'
        "lost</xflow:Parameter></bpmn:extensionElements>"
        "<bpmn:terminateEventDefinition/></bpmn:endEvent>"
        + flow("f0", "start", "g")
        + flow(
            "f1",
            "g",
            "a",
            "<bpmn:conditionExpression>user.attributes.x == 1</bpmn:conditionExpression>",
        )
        + flow("f2", "g", "b")
    )
    nodes = nodes_of(body)
    assert nodes["a"] == {"id": "a", "type": "end", "name": "Bought", "outcome": "bought"}
    assert nodes["b"] == {"id": "b", "type": "end", "outcome": "lost"}
    assert nodes_of(START + END + chain("start", "done"))["done"]["outcome"] == "completed"


def test_service_task_with_xflow_attributes() -> None:
    body = START + email_task("hello") + END + chain("start", "hello", "done")
    assert nodes_of(body)["hello"] == {
        "id": "hello",
        "type": "email",
        "next": "done",
        "to": "{{ user.email }}",
        "subject": "Hi",
        "text": "Hello",
    }


def test_send_task_with_action_element_and_typed_parameters() -> None:
    body = (
        START + '<bpmn:sendTask id="emit" name="Tell the CRM">'
        "<bpmn:documentation>Why</bpmn:documentation>"
        "<bpmn:extensionElements>"
        '<xflow:Action type="emit_event">'
        '<xflow:Parameter name="event_type">crm.stalled</xflow:Parameter>'
        '<xflow:Parameter name="payload" type="json">{"user": "{{ user.id }}", "n": 2}'
        "</xflow:Parameter></xflow:Action>"
        '<xflow:Parameter name="retry" type="json">{"maximum_attempts": 3}</xflow:Parameter>'
        '<xflow:Parameter name="timeout">PT30S</xflow:Parameter>'
        "</bpmn:extensionElements></bpmn:sendTask>" + END + chain("start", "emit", "done")
    )
    assert nodes_of(body)["emit"] == {
        "id": "emit",
        "type": "emit_event",
        "name": "Tell the CRM",
        "description": "Why",
        "next": "done",
        "retry": {"maximum_attempts": 3},
        "timeout": "PT30S",
        "event_type": "crm.stalled",
        "payload": {"user": "{{ user.id }}", "n": 2},
    }


def test_plain_task_with_webhook_and_update_actions() -> None:
    body = (
        START + '<bpmn:task id="hook" xflow:action="webhook" xflow:url="https://crm.example.com/x" '
        'xflow:method="PUT"/>' + '<bpmn:serviceTask id="set"><bpmn:extensionElements><xflow:Action '
        'type="update_attributes"><xflow:Parameter name="operations" type="json">'
        '[{"op": "increment", "path": "visits"}]</xflow:Parameter></xflow:Action>'
        "</bpmn:extensionElements></bpmn:serviceTask>" + END + chain("start", "hook", "set", "done")
    )
    nodes = nodes_of(body)
    assert (nodes["hook"]["type"], nodes["hook"]["method"], nodes["hook"]["next"]) == (
        "webhook",
        "PUT",
        "set",
    )
    assert nodes["set"]["operations"] == [{"op": "increment", "path": "visits", "by": 1}]


def test_exclusive_gateway_conditions_in_both_syntaxes_and_the_default_flow() -> None:
    json_condition = '{"field": "user.attributes.visits", "op": "gte", "value": 10}'
    body = (
        START + '<bpmn:exclusiveGateway id="which" default="f_other">'
        "<bpmn:outgoing>f_pro</bpmn:outgoing><bpmn:outgoing>f_busy</bpmn:outgoing>"
        "<bpmn:outgoing>f_other</bpmn:outgoing></bpmn:exclusiveGateway>"
        + '<bpmn:endEvent id="pro"/><bpmn:endEvent id="busy"/><bpmn:endEvent id="other"/>'
        + flow("f0", "start", "which")
        # Listed before f_pro in the document: the gateway's <outgoing> order decides.
        + flow(
            "f_busy",
            "which",
            "busy",
            f"<bpmn:conditionExpression>{json_condition}</bpmn:conditionExpression>",
        )
        + flow(
            "f_pro",
            "which",
            "pro",
            '<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">'
            '${user.attributes.plan == "pro"}</bpmn:conditionExpression>',
        )
        + flow("f_other", "which", "other")
    )
    assert nodes_of(body)["which"] == {
        "id": "which",
        "type": "condition",
        "branches": [
            {"when": {"field": "user.attributes.plan", "op": "eq", "value": "pro"}, "next": "pro"},
            {
                "when": {"field": "user.attributes.visits", "op": "gte", "value": 10},
                "next": "busy",
            },
        ],
        "default": "other",
    }


def test_merging_exclusive_gateway_passes_through() -> None:
    body = (
        START
        + '<bpmn:exclusiveGateway id="split" default="f2"/>'
        + email_task("a")
        + email_task("b")
        + '<bpmn:exclusiveGateway id="merge"/>'
        + END
        + flow("f0", "start", "split")
        + flow(
            "f1",
            "split",
            "a",
            "<bpmn:conditionExpression>exists(user.email)</bpmn:conditionExpression>",
        )
        + flow("f2", "split", "b")
        + chain("a", "merge", "done")
        + flow("f3", "b", "merge")
    )
    nodes = nodes_of(body)
    assert "merge" not in nodes
    assert nodes["a"]["next"] == nodes["b"]["next"] == "done"


def test_parallel_fork_and_join_nested() -> None:
    body = (
        START
        + '<bpmn:parallelGateway id="fork" xflow:join="any"/>'
        + email_task("a")
        + '<bpmn:parallelGateway id="inner"/>'
        + email_task("b1")
        + email_task("b2")
        + '<bpmn:parallelGateway id="inner_join"/>'
        + '<bpmn:parallelGateway id="join"/>'
        + email_task("after")
        + END
        + chain("start", "fork", "a", "join", "after", "done")
        + chain("fork", "inner", "b1", "inner_join", "join")
        + chain("inner", "b2", "inner_join")
    )
    nodes = nodes_of(body)
    assert nodes["fork"] == {
        "id": "fork",
        "type": "parallel",
        "branches": ["a", "inner"],
        "join": "any",
        "next": "after",
    }
    # The inner join flows straight into the outer one: the inner parallel ends its branch.
    assert nodes["inner"] == {
        "id": "inner",
        "type": "parallel",
        "branches": ["b1", "b2"],
        "join": "all",
    }
    assert all("next" not in nodes[branch_end] for branch_end in ("a", "b1", "b2"))
    assert "join" not in nodes and "inner_join" not in nodes


def test_event_based_gateway_becomes_a_wait_with_timeout() -> None:
    body = (
        START
        + '<bpmn:eventBasedGateway id="wait"/>'
        + '<bpmn:intermediateCatchEvent id="got"><bpmn:extensionElements>'
        '<xflow:Parameter name="match" type="condition">event.properties.cart == '
        "vars.entry.properties.cart</xflow:Parameter></bpmn:extensionElements>"
        '<bpmn:messageEventDefinition messageRef="m_act"/></bpmn:intermediateCatchEvent>'
        + '<bpmn:intermediateCatchEvent id="late"><bpmn:timerEventDefinition>'
        "<bpmn:timeDuration>P3D</bpmn:timeDuration></bpmn:timerEventDefinition>"
        "</bpmn:intermediateCatchEvent>"
        + '<bpmn:endEvent id="yes"/><bpmn:endEvent id="no"/>'
        + chain("start", "wait", "got", "yes")
        + chain("wait", "late", "no")
    )
    nodes = nodes_of(body, definitions=MESSAGES)
    assert nodes["wait"] == {
        "id": "wait",
        "type": "wait_for_event",
        "event_type": "activated",
        "match": {
            "field": "event.properties.cart",
            "op": "eq",
            "value": {"ref": "vars.entry.properties.cart"},
        },
        "timeout": "P3D",
        "on_event": "yes",
        "on_timeout": "no",
    }
    assert "got" not in nodes and "late" not in nodes


def test_timer_catch_events_become_delays() -> None:
    body = (
        START + '<bpmn:intermediateCatchEvent id="hour" xflow:max_iterations="3">'
        "<bpmn:timerEventDefinition><bpmn:timeDuration>PT1H</bpmn:timeDuration>"
        "</bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>"
        + '<bpmn:intermediateCatchEvent id="trial_end"><bpmn:timerEventDefinition>'
        "<bpmn:timeDate>${user.attributes.trial_ends_at}</bpmn:timeDate>"
        "</bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>"
        + '<bpmn:intermediateCatchEvent id="ten"><bpmn:extensionElements>'
        '<xflow:Parameter name="until_time" type="json">{"hour": 10, "weekdays": ["mon"]}'
        "</xflow:Parameter></bpmn:extensionElements><bpmn:timerEventDefinition/>"
        "</bpmn:intermediateCatchEvent>" + END + chain("start", "hour", "trial_end", "ten", "done")
    )
    nodes = nodes_of(body)
    assert nodes["hour"] == {
        "id": "hour",
        "type": "delay",
        "duration": "PT1H",
        "next": "trial_end",
        "max_iterations": 3,
    }
    assert nodes["trial_end"]["until_field"] == "user.attributes.trial_ends_at"
    assert nodes["ten"]["until_time"] == {"hour": 10, "minute": 0, "weekdays": ["mon"]}


def test_message_catch_event_waits_with_the_xflow_timeout_and_goes_on_either_way() -> None:
    body = (
        START + '<bpmn:intermediateCatchEvent id="wait" xflow:timeout="P2D">'
        '<bpmn:messageEventDefinition messageRef="m_act"/></bpmn:intermediateCatchEvent>'
        + END
        + chain("start", "wait", "done")
    )
    assert nodes_of(body, definitions=MESSAGES)["wait"] == {
        "id": "wait",
        "type": "wait_for_event",
        "event_type": "activated",
        "timeout": "P2D",
        "on_event": "done",
        "on_timeout": "done",
    }


def test_receive_task_with_boundary_timer() -> None:
    body = (
        START
        + '<bpmn:receiveTask id="wait" messageRef="m_act"/>'
        + '<bpmn:boundaryEvent id="timeout" attachedToRef="wait"><bpmn:timerEventDefinition>'
        "<bpmn:timeDuration>P7D</bpmn:timeDuration></bpmn:timerEventDefinition>"
        "</bpmn:boundaryEvent>"
        + '<bpmn:endEvent id="yes"/><bpmn:endEvent id="no"/>'
        + chain("start", "wait", "yes")
        + chain("timeout", "no")
    )
    wait = nodes_of(body, definitions=MESSAGES)["wait"]
    assert (wait["event_type"], wait["timeout"], wait["on_event"], wait["on_timeout"]) == (
        "activated",
        "P7D",
        "yes",
        "no",
    )


def test_error_boundary_events_become_on_error() -> None:
    body = (
        START
        + email_task("mail")
        + '<bpmn:boundaryEvent id="failed" attachedToRef="mail"><bpmn:errorEventDefinition/>'
        "</bpmn:boundaryEvent>"
        + '<bpmn:callActivity id="child" calledElement="journey-123"/>'
        + '<bpmn:boundaryEvent id="child_failed" attachedToRef="child">'
        "<bpmn:errorEventDefinition/></bpmn:boundaryEvent>"
        + '<bpmn:endEvent id="ok"/><bpmn:endEvent id="broken"/>'
        + chain("start", "mail", "child", "ok")
        + chain("failed", "broken")
        + flow("f9", "child_failed", "broken")
    )
    nodes = nodes_of(body)
    assert (nodes["mail"]["next"], nodes["mail"]["on_error"]) == ("child", "broken")
    assert nodes["child"]["on_error"] == "broken"


def test_call_activity_becomes_sub_journey() -> None:
    body = (
        START + '<bpmn:callActivity id="child" name="Nurture" calledElement="nurture-journey">'
        '<bpmn:extensionElements><xflow:Parameter name="wait" type="json">false</xflow:Parameter>'
        '<xflow:Parameter name="variables" type="json">{"source": "bpmn"}</xflow:Parameter>'
        "</bpmn:extensionElements></bpmn:callActivity>" + END + chain("start", "child", "done")
    )
    assert nodes_of(body)["child"] == {
        "id": "child",
        "type": "sub_journey",
        "name": "Nurture",
        "next": "done",
        "journey_id": "nurture-journey",
        "wait": False,
        "variables": {"source": "bpmn"},
    }


def test_weighted_flows_make_an_ab_split() -> None:
    body = (
        START
        + '<bpmn:exclusiveGateway id="ab"/><bpmn:endEvent id="a"/><bpmn:endEvent id="b"/>'
        + flow("f0", "start", "ab")
        + flow("f1", "ab", "a", name="discount", xflow__weight="70")
        + flow("f2", "ab", "b", xflow__variant="tour", xflow__weight="30")
    )
    assert nodes_of(body)["ab"]["variants"] == [
        {"name": "discount", "weight": 70, "next": "a"},
        {"name": "tour", "weight": 30, "next": "b"},
    ]


def test_ids_that_are_not_node_ids_are_made_valid_and_xflow_node_id_wins() -> None:
    body = (
        START
        + email_task("Task.1")
        + '<bpmn:endEvent id="n.1" xflow:nodeId="1"/>'
        + chain("start", "Task.1", "n.1")
    )
    journey = mapped(body)
    assert [node["id"] for node in journey["nodes"]] == ["Task_1", "1"]
    assert journey["start"] == "Task_1"


def test_the_modeler_example_maps_with_the_camunda_parts_ignored() -> None:
    result = import_bpmn((ROOT / "examples" / "bpmn" / "welcome.bpmn").read_bytes())
    assert result.problems == []
    assert result.document is not None
    assert result.suggested_trigger == {"event_type": "signup"}
    journey = document_json(result.document)
    assert journey["lifecycle_stages"] == ["Acquisition"]
    assert journey["create_missing_profile"] is True
    types = {node["id"]: node["type"] for node in journey["nodes"]}
    assert types == {
        "Activity_welcome_email": "email",
        "Activity_wait_activation": "wait_for_event",
        "Activity_mark_activated": "update_attributes",
        "Activity_mark_activated_lifecycle": "lifecycle_transition",
        "Event_welcomed": "end",
        "Gateway_pro_plan": "condition",
        "Activity_alert_sales": "webhook",
        "Event_sales_alerted": "end",
        "Event_stalled": "end",
    }
    # camunda:asyncBefore, camunda:inputOutput, camunda:properties left no trace.
    assert "camunda" not in str(journey) and "template" not in str(journey)

"""The xflow extension: lifecycle stages and transitions, parameters, and the published schema."""

from __future__ import annotations

from pathlib import Path

from defusedxml.ElementTree import parse

from dsl.stages import LIFECYCLE_STAGES
from journey.bpmn.extensions import PARAMETER_TYPES, STRUCTURAL_ATTRIBUTES
from journey.bpmn.mapping import TASK_ACTIONS
from journey.bpmn.namespaces import XFLOW
from tests.journey.bpmn.helpers import END, START, chain, codes, email_task, mapped, nodes_of

ROOT = Path(__file__).resolve().parents[3]
XSD = ROOT / "schemas" / "xflow-lifecycle.xsd"
XS = "{http://www.w3.org/2001/XMLSchema}"
MESSAGES = '<bpmn:message id="m_act" name="activated"/>'


def _process_extensions(inner: str) -> str:
    return f"<bpmn:extensionElements>{inner}</bpmn:extensionElements>"


def test_lifecycle_on_the_process_sets_the_journey_stages_in_order() -> None:
    stages = '<xflow:Lifecycle stage="Revenue"/><xflow:Lifecycle stage="Referral"/>'
    journey = mapped(_process_extensions(stages) + START + END + chain("start", "done"))
    assert journey["lifecycle_stages"] == ["Revenue", "Referral"]


def test_lifecycle_on_a_task_with_an_action_adds_a_transition_after_it() -> None:
    lifecycle = _process_extensions('<xflow:Lifecycle stage="Activation" reason="emailed"/>')
    body = START + email_task("mail", extra=lifecycle) + END + chain("start", "mail", "done")
    nodes = nodes_of(body)
    assert nodes["mail"]["next"] == "mail_lifecycle"
    assert nodes["mail_lifecycle"] == {
        "id": "mail_lifecycle",
        "type": "lifecycle_transition",
        "stage": "Activation",
        "reason": "emailed",
        "next": "done",
    }


def test_lifecycle_alone_on_a_task_or_throw_event_is_the_transition() -> None:
    body = (
        START + '<bpmn:serviceTask id="move" name="Activate"><bpmn:extensionElements>'
        '<xflow:Lifecycle stage="Activation"/><xflow:Parameter name="retry" type="json">'
        '{"maximum_attempts": 2}</xflow:Parameter></bpmn:extensionElements></bpmn:serviceTask>'
        + '<bpmn:intermediateThrowEvent id="milestone"><bpmn:extensionElements>'
        '<xflow:Lifecycle stage="Retention" reason="kept"/></bpmn:extensionElements>'
        "</bpmn:intermediateThrowEvent>" + END + chain("start", "move", "milestone", "done")
    )
    nodes = nodes_of(body)
    assert nodes["move"] == {
        "id": "move",
        "type": "lifecycle_transition",
        "name": "Activate",
        "stage": "Activation",
        "next": "milestone",
        "retry": {"maximum_attempts": 2},
    }
    assert nodes["milestone"]["stage"] == "Retention"
    assert nodes["milestone"]["reason"] == "kept"


def test_lifecycle_on_events_happens_at_that_point() -> None:
    stage = _process_extensions('<xflow:Lifecycle stage="{}"/>')
    body = (
        '<bpmn:startEvent id="start">'
        + stage.format("Acquisition")
        + "</bpmn:startEvent>"
        + '<bpmn:receiveTask id="wait" messageRef="m_act">'
        + stage.format("Activation")
        + "</bpmn:receiveTask>"
        + '<bpmn:boundaryEvent id="late" attachedToRef="wait">'
        + stage.format("Retention")
        + "<bpmn:timerEventDefinition><bpmn:timeDuration>P1D</bpmn:timeDuration>"
        "</bpmn:timerEventDefinition></bpmn:boundaryEvent>"
        + '<bpmn:endEvent id="done">'
        + stage.format("Revenue")
        + "</bpmn:endEvent>"
        + '<bpmn:endEvent id="gone"/>'
        + chain("start", "wait", "done")
        + chain("late", "gone")
    )
    journey = mapped(body, definitions=MESSAGES)
    nodes = {node["id"]: node for node in journey["nodes"]}
    # Start: the transition runs first.
    assert journey["start"] == "start_lifecycle"
    assert nodes["start_lifecycle"]["stage"] == "Acquisition"
    assert nodes["start_lifecycle"]["next"] == "wait"
    # Receive task: after the event arrived; boundary timer: after it fired.
    assert nodes["wait"]["on_event"] == "wait_lifecycle"
    assert nodes["wait_lifecycle"]["next"] == "done_lifecycle"
    assert nodes["wait"]["on_timeout"] == "late_lifecycle"
    assert (nodes["late_lifecycle"]["stage"], nodes["late_lifecycle"]["next"]) == (
        "Retention",
        "gone",
    )
    # End event: just before the end.
    assert (nodes["done_lifecycle"]["stage"], nodes["done_lifecycle"]["next"]) == (
        "Revenue",
        "done",
    )


def test_lifecycle_on_a_branch_end_ends_the_branch() -> None:
    lifecycle = _process_extensions('<xflow:Lifecycle stage="Referral"/>')
    body = (
        START
        + '<bpmn:parallelGateway id="fork"/>'
        + email_task("a", extra=lifecycle)
        + email_task("b")
        + '<bpmn:parallelGateway id="join"/>'
        + END
        + chain("start", "fork", "a", "join", "done")
        + chain("fork", "b", "join")
    )
    nodes = nodes_of(body)
    assert nodes["a"]["next"] == "a_lifecycle"
    assert "next" not in nodes["a_lifecycle"]


def test_process_parameters_set_journey_wide_fields() -> None:
    params = _process_extensions(
        '<xflow:Parameter name="timezone">Europe/Paris</xflow:Parameter>'
        '<xflow:Parameter name="exit_criteria" type="condition">'
        'event.type == "account.deleted"</xflow:Parameter>'
        '<xflow:Parameter name="goal" type="condition">'
        '{"field": "user.current_lifecycle_stage", "op": "eq", "value": "Activation"}'
        "</xflow:Parameter>"
        '<xflow:Parameter name="variables" type="json">{"campaign": "spring"}</xflow:Parameter>'
        '<xflow:Parameter name="restrict_to_stages" type="json">true</xflow:Parameter>'
    )
    journey = mapped(params + START + END + chain("start", "done"))
    assert journey["timezone"] == "Europe/Paris"
    assert journey["exit_criteria"] == {
        "field": "event.type",
        "op": "eq",
        "value": "account.deleted",
    }
    assert journey["goal"]["value"] == "Activation"
    assert journey["variables"] == {"campaign": "spring"}
    assert journey["restrict_to_stages"] is True


def test_text_parameters_keep_their_text_exactly() -> None:
    text = "  Line one\n\tLine &lt;two&gt; &amp; three  "
    body = (
        START + '<bpmn:sendTask id="mail" xflow:action="email" xflow:to="a@example.com" '
        'xflow:subject="S">'
        f'<bpmn:extensionElements><xflow:Parameter name="text">{text}</xflow:Parameter>'
        "</bpmn:extensionElements></bpmn:sendTask>" + END + chain("start", "mail", "done")
    )
    assert nodes_of(body)["mail"]["text"] == "  Line one\n\tLine <two> & three  "


def test_other_tools_extensions_are_ignored() -> None:
    extra = _process_extensions(
        '<camunda:inputOutput><camunda:inputParameter name="x">1</camunda:inputParameter>'
        "</camunda:inputOutput>"
    )
    body = START + email_task("mail", extra=extra) + END + chain("start", "mail", "done")
    assert set(nodes_of(body)["mail"]) == {"id", "type", "next", "to", "subject", "text"}


def test_extension_misuse_is_reported_per_element() -> None:
    def ext(inner: str) -> str:
        return _process_extensions(inner)

    body = (
        START
        + '<bpmn:serviceTask id="typo">'
        + ext('<xflow:Acton type="email"/>')
        + "</bpmn:serviceTask>"
        + '<bpmn:serviceTask id="twice" xflow:action="email">'
        + ext('<xflow:Action type="webhook"/>')
        + "</bpmn:serviceTask>"
        + '<bpmn:serviceTask id="dup" xflow:action="email" xflow:to="x">'
        + ext('<xflow:Parameter name="to">y</xflow:Parameter>')
        + "</bpmn:serviceTask>"
        + '<bpmn:serviceTask id="badjson" xflow:action="webhook">'
        + ext('<xflow:Parameter name="body" type="json">{nope</xflow:Parameter>')
        + "</bpmn:serviceTask>"
        + '<bpmn:serviceTask id="badtype" xflow:action="webhook">'
        + ext('<xflow:Parameter name="body" type="yaml">a: 1</xflow:Parameter>')
        + "</bpmn:serviceTask>"
        + '<bpmn:serviceTask id="badcond" xflow:action="webhook">'
        + ext('<xflow:Parameter name="x" type="condition">user.a +</xflow:Parameter>')
        + "</bpmn:serviceTask>"
        + '<bpmn:serviceTask id="nostage">'
        + ext("<xflow:Lifecycle/>")
        + "</bpmn:serviceTask>"
        + '<bpmn:serviceTask id="noname" xflow:action="email">'
        + ext("<xflow:Parameter>x</xflow:Parameter>")
        + "</bpmn:serviceTask>"
        + '<bpmn:serviceTask id="structural" xflow:action="email" xflow:next="done"/>'
        + END
        + chain("start", "typo", "twice", "dup", "badjson", "badtype", "badcond", "nostage")
        + chain("nostage", "noname", "structural", "done")
    )
    assert {
        ("typo", "unknown_extension"),
        ("twice", "conflicting_action"),
        ("dup", "duplicate_parameter"),
        ("badjson", "invalid_parameter_json"),
        ("badtype", "unknown_parameter_type"),
        ("badcond", "invalid_condition_expression"),
        ("nostage", "lifecycle_without_stage"),
        ("noname", "parameter_without_name"),
        ("structural", "structural_parameter"),
    } <= codes(body)


def test_xflow_content_where_it_has_no_effect_is_reported() -> None:
    lifecycle = _process_extensions('<xflow:Lifecycle stage="Revenue" reason="no"/>')
    body = (
        lifecycle
        + START
        + '<bpmn:exclusiveGateway id="choose" default="f2">'
        + _process_extensions('<xflow:Lifecycle stage="Revenue"/>')
        + "</bpmn:exclusiveGateway>"
        + '<bpmn:exclusiveGateway id="merge" xflow:outcome="x"/>'
        + END
        + chain("start", "choose")
        + '<bpmn:sequenceFlow id="f1" sourceRef="choose" targetRef="merge" xflow:timeout="P1D">'
        "<bpmn:conditionExpression>exists(user.email)</bpmn:conditionExpression>"
        "</bpmn:sequenceFlow>"
        + '<bpmn:sequenceFlow id="f2" sourceRef="choose" targetRef="merge"/>'
        + '<bpmn:sequenceFlow id="f3" sourceRef="merge" targetRef="done" xflow:weight="2"/>'
    )
    assert {
        ("p", "extension_ignored"),
        ("choose", "extension_ignored"),
        ("merge", "extension_ignored"),
        ("f1", "extension_ignored"),
        ("f3", "extension_ignored"),
    } <= codes(body)


def test_the_published_schema_declares_what_the_importer_reads() -> None:
    schema = parse(str(XSD)).getroot()
    assert schema.get("targetNamespace") == XFLOW
    elements = {element.get("name"): element for element in schema.findall(f"{XS}element")}
    assert set(elements) == {"Lifecycle", "Action", "Parameter"}
    types = {simple.get("name"): simple for simple in schema.findall(f"{XS}simpleType")}

    def enumeration(name: str) -> list[str | None]:
        return [e.get("value") for e in types[name].iter(f"{XS}enumeration")]

    assert enumeration("Stage") == list(LIFECYCLE_STAGES)
    assert enumeration("ActionType") == list(TASK_ACTIONS)
    assert enumeration("ParameterType") == list(PARAMETER_TYPES)
    attributes = {attribute.get("name") for attribute in schema.findall(f"{XS}attribute")}
    assert attributes >= STRUCTURAL_ATTRIBUTES
    lifecycle = {a.get("name") for a in elements["Lifecycle"].iter(f"{XS}attribute")}
    parameter = {a.get("name") for a in elements["Parameter"].iter(f"{XS}attribute")}
    assert (lifecycle, parameter) == ({"stage", "reason"}, {"name", "type"})

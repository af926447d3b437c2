"""Everything outside the subset is reported with element id, BPMN type and why; never dropped."""

from __future__ import annotations

import pytest

from journey.bpmn import import_bpmn
from tests.journey.bpmn.helpers import (
    END,
    START,
    chain,
    codes,
    document,
    email_task,
    flow,
    problems,
)

MESSAGES = '<bpmn:message id="m" name="activated"/><bpmn:message id="nameless"/>'


def _between(element: str, element_id: str = "x") -> str:
    """`element` (with id `element_id`) on the path start -> element -> done."""
    return START + element + END + chain("start", element_id, "done")


# (element on the main path, its BPMN type, the problem code, a word the reason must contain)
UNSUPPORTED = [
    ('<bpmn:userTask id="x"/>', "bpmn:userTask", "unsupported_element", "people"),
    ('<bpmn:manualTask id="x"/>', "bpmn:manualTask", "unsupported_element", "people"),
    ('<bpmn:scriptTask id="x"/>', "bpmn:scriptTask", "unsupported_element", "scripts"),
    ('<bpmn:businessRuleTask id="x"/>', "bpmn:businessRuleTask", "unsupported_element", "decision"),
    ('<bpmn:subProcess id="x"/>', "bpmn:subProcess", "unsupported_element", "call activity"),
    ('<bpmn:transaction id="x"/>', "bpmn:transaction", "unsupported_element", "transactions"),
    ('<bpmn:inclusiveGateway id="x"/>', "bpmn:inclusiveGateway", "unsupported_element", "parallel"),
    ('<bpmn:complexGateway id="x"/>', "bpmn:complexGateway", "unsupported_element", "exclusive"),
    (
        '<bpmn:intermediateThrowEvent id="x"><bpmn:signalEventDefinition/>'
        "</bpmn:intermediateThrowEvent>",
        "bpmn:intermediateThrowEvent",
        "unsupported_event",
        "emit_event",
    ),
    (
        '<bpmn:intermediateThrowEvent id="x"/>',
        "bpmn:intermediateThrowEvent",
        "no_effect",
        "xflow:Lifecycle",
    ),
    (
        '<bpmn:intermediateCatchEvent id="x"><bpmn:signalEventDefinition/>'
        "</bpmn:intermediateCatchEvent>",
        "bpmn:intermediateCatchEvent",
        "unsupported_event",
        "signalEventDefinition",
    ),
    (
        '<bpmn:intermediateCatchEvent id="x"><bpmn:conditionalEventDefinition/>'
        "</bpmn:intermediateCatchEvent>",
        "bpmn:intermediateCatchEvent",
        "unsupported_event",
        "conditionalEventDefinition",
    ),
    (
        '<bpmn:serviceTask id="x" xflow:action="email"><bpmn:multiInstanceLoopCharacteristics/>'
        "</bpmn:serviceTask>",
        "bpmn:serviceTask",
        "unsupported_child",
        "max_iterations",
    ),
    (
        '<bpmn:serviceTask id="x" xflow:action="email"><bpmn:ioSpecification/></bpmn:serviceTask>',
        "bpmn:serviceTask",
        "unsupported_child",
        "data",
    ),
    (
        '<bpmn:serviceTask id="x" xflow:action="email" isForCompensation="true"/>',
        "bpmn:serviceTask",
        "unsupported_element",
        "compensation",
    ),
    ('<bpmn:serviceTask id="x"/>', "bpmn:serviceTask", "missing_action", "xflow:Action"),
    ('<bpmn:task id="x" xflow:action="sms"/>', "bpmn:task", "unknown_action", "email"),
    (
        '<bpmn:serviceTask id="x" xflow:action="sub_journey"/>',
        "bpmn:serviceTask",
        "unknown_action",
        "call activity",
    ),
    ('<bpmn:callActivity id="x"/>', "bpmn:callActivity", "missing_called_element", "journey"),
    ('<bpmn:receiveTask id="x"/>', "bpmn:receiveTask", "missing_message", "messageRef"),
    (
        '<bpmn:receiveTask id="x" messageRef="nameless" xflow:timeout="P1D"/>',
        "bpmn:receiveTask",
        "missing_message",
        "name",
    ),
    ('<bpmn:receiveTask id="x" messageRef="m"/>', "bpmn:receiveTask", "missing_timeout", "timer"),
    (
        '<bpmn:receiveTask id="x" messageRef="m" instantiate="true" xflow:timeout="P1D"/>',
        "bpmn:receiveTask",
        "unsupported_element",
        "message start event",
    ),
    (
        '<bpmn:intermediateCatchEvent id="x"><bpmn:messageEventDefinition messageRef="m"/>'
        "</bpmn:intermediateCatchEvent>",
        "bpmn:intermediateCatchEvent",
        "missing_timeout",
        "xflow:timeout",
    ),
    (
        '<bpmn:intermediateCatchEvent id="x"><bpmn:timerEventDefinition><bpmn:timeCycle>'
        "R3/PT1H</bpmn:timeCycle></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>",
        "bpmn:intermediateCatchEvent",
        "unsupported_timer",
        "timeCycle",
    ),
    (
        '<bpmn:intermediateCatchEvent id="x"><bpmn:timerEventDefinition><bpmn:timeDate>'
        "2030-01-01T00:00:00Z</bpmn:timeDate></bpmn:timerEventDefinition>"
        "</bpmn:intermediateCatchEvent>",
        "bpmn:intermediateCatchEvent",
        "unsupported_timer",
        "field",
    ),
    (
        '<bpmn:intermediateCatchEvent id="x"><bpmn:timerEventDefinition><bpmn:timeDuration>'
        "${wait}</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>",
        "bpmn:intermediateCatchEvent",
        "unsupported_timer",
        "ISO 8601",
    ),
]


@pytest.mark.parametrize(("element", "bpmn_type", "code", "why"), UNSUPPORTED)
def test_each_unsupported_element_is_named_with_its_type_and_reason(
    element: str, bpmn_type: str, code: str, why: str
) -> None:
    found = [p for p in problems(_between(element), definitions=MESSAGES) if p.code == code]
    assert [(p.element_id, p.element_type) for p in found] == [("x", bpmn_type)]
    assert why in found[0].message


def test_every_problem_is_reported_at_once() -> None:
    body = (
        START
        + '<bpmn:userTask id="approve"/>'
        + '<bpmn:scriptTask id="score"/>'
        + '<bpmn:inclusiveGateway id="some"/>'
        + '<bpmn:dataObjectReference id="data"/>'
        + END
        + chain("start", "approve", "score", "some", "done")
    )
    found = {(p.element_id, p.element_type) for p in problems(body)}
    assert found == {
        ("approve", "bpmn:userTask"),
        ("score", "bpmn:scriptTask"),
        ("some", "bpmn:inclusiveGateway"),
        ("data", "bpmn:dataObjectReference"),
    }


@pytest.mark.parametrize(
    ("end_definition", "reported"),
    [("errorEventDefinition", True), ("messageEventDefinition", True), ("", False)],
)
def test_end_events_other_than_none_and_terminate(end_definition: str, reported: bool) -> None:
    inner = f"<bpmn:{end_definition}/>" if end_definition else "<bpmn:terminateEventDefinition/>"
    body = START + f'<bpmn:endEvent id="done">{inner}</bpmn:endEvent>' + chain("start", "done")
    result = import_bpmn(document(body))
    assert (("done", "unsupported_event") in {(p.element_id, p.code) for p in result.problems}) is (
        reported
    )


def test_start_events_no_start_several_starts_and_unsupported_kinds() -> None:
    assert ("p", "no_start_event") in codes(END)
    two = START + '<bpmn:startEvent id="start2"/>' + END + chain("start", "done")
    assert ("start2", "multiple_start_events") in codes(two + chain("start2", "done"))
    signal = (
        '<bpmn:startEvent id="start"><bpmn:signalEventDefinition/></bpmn:startEvent>'
        + END
        + chain("start", "done")
    )
    assert ("start", "unsupported_event") in codes(signal)
    with_params = (
        '<bpmn:startEvent id="start" xflow:reentry="once"/>' + END + chain("start", "done")
    )
    assert ("start", "extension_ignored") in codes(with_params)
    bad_trigger = (
        '<bpmn:startEvent id="start" xflow:reentry="sometimes">'
        '<bpmn:messageEventDefinition messageRef="m"/></bpmn:startEvent>'
        + END
        + chain("start", "done")
    )
    assert ("start", "invalid_trigger") in codes(bad_trigger, definitions=MESSAGES)


def test_boundary_events_outside_the_subset() -> None:
    timer = "<bpmn:timerEventDefinition><bpmn:timeDuration>P1D</bpmn:timeDuration>"
    body = (
        START + email_task("mail") + f'<bpmn:boundaryEvent id="slow" attachedToRef="mail">{timer}'
        "</bpmn:timerEventDefinition></bpmn:boundaryEvent>"
        + '<bpmn:receiveTask id="wait" messageRef="m"/>'
        + f'<bpmn:boundaryEvent id="soft" attachedToRef="wait" cancelActivity="false">{timer}'
        "</bpmn:timerEventDefinition></bpmn:boundaryEvent>"
        + '<bpmn:boundaryEvent id="nowhere" attachedToRef="ghost"/>'
        + END
        + chain("start", "mail", "wait", "done")
        + chain("slow", "done")
        + flow("f9", "soft", "done")
    )
    assert {
        ("slow", "unsupported_boundary"),
        ("soft", "non_interrupting_boundary"),
        ("nowhere", "dangling_boundary"),
    } <= codes(body, definitions=MESSAGES)


def test_gateway_shapes_outside_the_subset() -> None:
    body = (
        START
        + email_task("a")
        + email_task("b")
        + '<bpmn:exclusiveGateway id="mixed"/>'
        + '<bpmn:exclusiveGateway id="nodefault"/>'
        + '<bpmn:exclusiveGateway id="lang" default="l2"/>'
        + '<bpmn:exclusiveGateway id="syntax" default="s2"/>'
        + '<bpmn:endEvent id="e1"/><bpmn:endEvent id="e2"/><bpmn:endEvent id="e3"/>'
        + chain("start", "a", "mixed")
        + chain("b", "mixed")
        + flow("m1", "mixed", "nodefault")
        + flow("m2", "mixed", "e1")
        + flow(
            "n1",
            "nodefault",
            "lang",
            "<bpmn:conditionExpression>exists(user.email)</bpmn:conditionExpression>",
        )
        + flow("n2", "nodefault", "e2")
        + flow(
            "l1",
            "lang",
            "syntax",
            '<bpmn:conditionExpression language="javascript">true</bpmn:conditionExpression>',
        )
        + flow("l2", "lang", "e2")
        + flow(
            "s1", "syntax", "e3", "<bpmn:conditionExpression>user.x +</bpmn:conditionExpression>"
        )
        + flow(
            "s2",
            "syntax",
            "e3",
            "<bpmn:conditionExpression>exists(user.email)</bpmn:conditionExpression>",
        )
    )
    assert {
        ("mixed", "mixed_gateway"),
        ("nodefault", "missing_default"),
        ("n2", "missing_condition"),
        ("l1", "unsupported_condition_language"),
        ("s1", "invalid_condition_expression"),
        ("s2", "default_with_condition"),
    } <= codes(body)


def test_parallel_shapes_outside_the_subset() -> None:
    unjoined = (
        START
        + '<bpmn:parallelGateway id="fork"/>'
        + '<bpmn:endEvent id="e1"/><bpmn:endEvent id="e2"/>'
        + chain("start", "fork", "e1")
        + chain("fork", "e2")
    )
    assert ("fork", "unmatched_fork") in codes(unjoined)
    two_joins = (
        START
        + '<bpmn:parallelGateway id="fork"/>'
        + "".join(email_task(task) for task in "abcd")
        + '<bpmn:parallelGateway id="j1"/><bpmn:parallelGateway id="j2"/>'
        + END
        + chain("start", "fork", "a", "j1", "done")
        + chain("fork", "b", "j1")
        + chain("fork", "c", "j2", "done")
        + chain("fork", "d", "j2")
    )
    found = problems(two_joins)
    assert [(p.element_id, p.code) for p in found] == [("fork", "unmatched_fork")]
    assert "different joins (j1, j2)" in found[0].message
    gateway_into_join = (
        START
        + '<bpmn:parallelGateway id="fork"/>'
        + '<bpmn:exclusiveGateway id="choose" default="d"/>'
        + email_task("b")
        + '<bpmn:parallelGateway id="join"/>'
        + END
        + chain("start", "fork", "choose")
        + flow(
            "c1",
            "choose",
            "b",
            "<bpmn:conditionExpression>exists(user.a)</bpmn:conditionExpression>",
        )
        + flow("d", "choose", "join")
        + chain("b", "join", "done")
        + chain("fork", "join")
    )
    assert {("d", "branch_ends_here"), ("f_fork_join", "branch_ends_here")} <= codes(
        gateway_into_join
    )


def test_event_gateway_shapes_outside_the_subset() -> None:
    message = (
        '<bpmn:intermediateCatchEvent id="{}"><bpmn:messageEventDefinition messageRef="m"/>'
        "</bpmn:intermediateCatchEvent>"
    )
    body = (
        START
        + '<bpmn:eventBasedGateway id="race"/>'
        + message.format("m1")
        + message.format("m2")
        + '<bpmn:receiveTask id="r" messageRef="m"/>'
        + END
        + chain("start", "race", "m1", "done")
        + chain("race", "m2", "done")
        + chain("race", "r", "done")
    )
    assert {("race", "event_gateway_shape"), ("r", "unsupported_event_gateway_target")} <= codes(
        body, definitions=MESSAGES
    )


def test_flows_that_cannot_be_followed() -> None:
    body = (
        START
        + email_task("fan")
        + email_task("a")
        + email_task("stuck")
        + END
        + chain("start", "fan", "a", "done")
        + flow("back", "a", "start")
        + flow("f2", "fan", "stuck")
        + flow("ghost", "a", "nowhere")
    )
    found = codes(body)
    assert {
        ("fan", "outgoing_flows"),
        ("stuck", "outgoing_flows"),
        ("back", "flow_into_event"),
        ("ghost", "dangling_flow"),
    } <= found


def test_gateways_that_loop_without_a_node() -> None:
    body = START + '<bpmn:exclusiveGateway id="g1"/><bpmn:exclusiveGateway id="g2"/>'
    assert codes(body + chain("start", "g1", "g2", "g1")) == {("g1", "gateway_cycle")}


def test_documents_without_a_usable_process() -> None:
    empty = document("").replace('<bpmn:process id="p" isExecutable="true" name="Test">\n\n', "")
    empty = empty.replace("</bpmn:process>\n", "")
    result = import_bpmn(empty)
    assert [(p.element_type, p.code) for p in result.problems] == [
        ("bpmn:definitions", "no_process")
    ]
    two = document(START + END + chain("start", "done")).replace(
        "</bpmn:definitions>",
        '<bpmn:process id="other"><bpmn:startEvent id="s2"/></bpmn:process>'
        '<bpmn:collaboration id="c"><bpmn:messageFlow id="mf" sourceRef="a" targetRef="b"/>'
        "</bpmn:collaboration></bpmn:definitions>",
    )
    assert {("other", "multiple_processes"), ("mf", "unsupported_element")} <= {
        (p.element_id, p.code) for p in import_bpmn(two).problems
    }


def test_a_diagram_that_maps_but_does_not_validate_names_the_elements() -> None:
    body = (
        '<bpmn:extensionElements><xflow:Lifecycle stage="Happiness"/></bpmn:extensionElements>'
        + START
        + '<bpmn:serviceTask id="mail" xflow:action="email" xflow:to="a@example.com"/>'
        + '<bpmn:exclusiveGateway id="check" default="f2"/>'
        + END
        + chain("start", "mail", "check")
        + flow(
            "f1",
            "check",
            "done",
            '<bpmn:conditionExpression>{"field": "user.x", "op": "near",'
            ' "value": 1}</bpmn:conditionExpression>',
        )
        + flow("f2", "check", "done")
    )
    result = import_bpmn(document(body))
    assert result.document is None
    assert result.definition is not None  # what the diagram became, for the author to inspect
    located = {(p.element_id, p.code, p.path) for p in result.problems}
    assert ("p", "unknown_lifecycle_stage", "/lifecycle_stages/0") in located
    assert ("mail", "missing", "/nodes/0/subject") in located
    assert ("f1", "enum", "/nodes/1/branches/0/when/op") in located


def test_a_loop_without_a_guard_is_reported_at_its_element() -> None:
    body = (
        START
        + email_task("again")
        + '<bpmn:exclusiveGateway id="more" default="f2"/>'
        + END
        + chain("start", "again", "more")
        + flow(
            "f1",
            "more",
            "again",
            "<bpmn:conditionExpression>exists(user.a)</bpmn:conditionExpression>",
        )
        + flow("f2", "more", "done")
    )
    assert ("again", "unguarded_loop") in codes(body)


def test_meaning_in_the_wrong_place_is_reported_not_dropped() -> None:
    condition = "<bpmn:conditionExpression>exists(user.a)</bpmn:conditionExpression>"
    body = (
        START
        + email_task("mail")
        + '<bpmn:receiveTask id="wait" messageRef="m" xflow:timeout="P1D" xflow:action="email"/>'
        + '<bpmn:exclusiveGateway id="pick" default="nope"/>'
        + '<bpmn:intermediateCatchEvent id="both" xflow:timeout="P1D">'
        '<bpmn:messageEventDefinition messageRef="m"/><bpmn:timerEventDefinition/>'
        "</bpmn:intermediateCatchEvent>"
        + '<bpmn:eventBasedGateway id="race" instantiate="true"/>'
        + '<bpmn:boundaryEvent id="on_end" attachedToRef="done"><bpmn:errorEventDefinition/>'
        "</bpmn:boundaryEvent>"
        + END
        + flow("conditional", "start", "mail", condition)
        + chain("mail", "wait", "pick")
        + flow("p1", "pick", "both", condition)
        + flow("p2", "pick", "done")
        + chain("both", "done")
        + flow("f_on_end", "on_end", "done")
    )
    assert {
        ("conditional", "unsupported_condition"),
        ("wait", "extension_ignored"),
        ("pick", "dangling_default"),
        ("both", "multiple_event_definitions"),
        ("on_end", "unsupported_boundary"),
    } <= codes(body, definitions=MESSAGES)
    race = (
        START
        + '<bpmn:eventBasedGateway id="race" eventGatewayType="Parallel"/>'
        + '<bpmn:intermediateCatchEvent id="got"><bpmn:messageEventDefinition messageRef="m"/>'
        "</bpmn:intermediateCatchEvent>"
        + '<bpmn:intermediateCatchEvent id="late"><bpmn:timerEventDefinition><bpmn:timeDuration>'
        "P1D</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>"
        + END
        + chain("start", "race", "got", "done")
        + chain("race", "late", "done")
    )
    assert codes(race, definitions=MESSAGES) == {("race", "unsupported_element")}


def _ext(inner: str) -> str:
    return f"<bpmn:extensionElements>{inner}</bpmn:extensionElements>"


CATCH_MESSAGE = (
    '<bpmn:intermediateCatchEvent id="{}"><bpmn:messageEventDefinition messageRef="m"/>'
    "</bpmn:intermediateCatchEvent>"
)
CATCH_TIMER = (
    '<bpmn:intermediateCatchEvent id="{}"><bpmn:timerEventDefinition><bpmn:timeDuration>P1D'
    "</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>"
)
WEIGHTED = {"xflow__weight": "1"}
STRUCTURE = [
    pytest.param(
        _between(f'<bpmn:serviceTask id="x">{_ext("<xflow:Action/>")}</bpmn:serviceTask>'),
        ("x", "action_without_type"),
        id="action without type",
    ),
    pytest.param(
        _between(
            '<bpmn:serviceTask id="x" xflow:action="email">'
            + _ext('<xflow:Parameter name="text"><b>bold</b></xflow:Parameter>')
            + "</bpmn:serviceTask>"
        ),
        ("x", "parameter_not_text"),
        id="parameter with markup",
    ),
    pytest.param(
        _between(
            '<bpmn:serviceTask id="x" xflow:action="email">'
            + _ext('<xflow:Lifecycle stage="Revenue"/><xflow:Lifecycle stage="Referral"/>')
            + "</bpmn:serviceTask>"
        ),
        ("x", "multiple_lifecycles"),
        id="two lifecycles",
    ),
    pytest.param(
        START + email_task("x") + email_task("x") + END + chain("start", "x", "done"),
        ("x", "duplicate_id"),
        id="duplicate id",
    ),
    pytest.param(
        START
        + '<bpmn:serviceTask id="a" xflow:nodeId="same" xflow:action="email"/>'
        + '<bpmn:serviceTask id="b" xflow:nodeId="same" xflow:action="email"/>'
        + END
        + chain("start", "a", "b", "done"),
        ("b", "duplicate_node_id"),
        id="duplicate xflow:nodeId",
    ),
    pytest.param(
        START + '<bpmn:serviceTask xflow:action="email"/>' + END + chain("start", "done"),
        (None, "missing_id"),
        id="element without id",
    ),
    pytest.param(
        START + '<bpmn:exclusiveGateway id="x"/>' + chain("start", "x"),
        ("x", "gateway_without_outgoing"),
        id="gateway leading nowhere",
    ),
    pytest.param(
        START
        + email_task("x")
        + '<bpmn:boundaryEvent id="e1" attachedToRef="x"><bpmn:errorEventDefinition/>'
        "</bpmn:boundaryEvent>"
        + '<bpmn:boundaryEvent id="e2" attachedToRef="x"><bpmn:errorEventDefinition/>'
        "</bpmn:boundaryEvent>"
        + END
        + chain("start", "x", "done")
        + chain("e1", "done")
        + flow("f_e2", "e2", "done"),
        ("e2", "duplicate_boundary"),
        id="two error boundaries",
    ),
    pytest.param(
        START
        + '<bpmn:exclusiveGateway id="ab" default="f2"/><bpmn:endEvent id="a"/>'
        + '<bpmn:endEvent id="b"/>'
        + flow("f0", "start", "ab")
        + flow("f1", "ab", "a", name="one", **WEIGHTED)
        + flow("f2", "ab", "b", name="two", **WEIGHTED),
        ("ab", "split_with_default"),
        id="split with default",
    ),
    pytest.param(
        START
        + '<bpmn:exclusiveGateway id="ab"/><bpmn:endEvent id="a"/><bpmn:endEvent id="b"/>'
        + flow("f0", "start", "ab")
        + flow("f1", "ab", "a", name="one", **WEIGHTED)
        + flow("f2", "ab", "b"),
        ("f2", "incomplete_variant"),
        id="unweighted variant",
    ),
    pytest.param(
        START
        + '<bpmn:exclusiveGateway id="ab"/><bpmn:endEvent id="a"/><bpmn:endEvent id="b"/>'
        + flow("f0", "start", "ab")
        + flow(
            "f1",
            "ab",
            "a",
            "<bpmn:conditionExpression>exists(user.a)</bpmn:conditionExpression>",
            name="one",
            **WEIGHTED,
        )
        + flow("f2", "ab", "b", name="two", **WEIGHTED),
        ("f1", "variant_with_condition"),
        id="variant with condition",
    ),
    pytest.param(
        START
        + '<bpmn:parallelGateway id="fork" xflow:join="any"/>'
        + email_task("a")
        + email_task("b")
        + '<bpmn:parallelGateway id="join" xflow:join="all"/>'
        + END
        + chain("start", "fork", "a", "join", "done")
        + chain("fork", "b", "join"),
        ("join", "conflicting_join"),
        id="fork and join disagree",
    ),
    pytest.param(
        START
        + '<bpmn:parallelGateway id="f1"/><bpmn:parallelGateway id="f2"/>'
        + "".join(email_task(task) for task in "acd")
        + '<bpmn:parallelGateway id="j"/>'
        + END
        + chain("start", "f1", "a", "j", "done")
        + chain("f1", "f2", "c", "j")
        + chain("f2", "d", "j"),
        ("j", "shared_join"),
        id="one join for two forks",
    ),
    pytest.param(
        START
        + '<bpmn:eventBasedGateway id="race"/>'
        + CATCH_MESSAGE.format("got")
        + CATCH_TIMER.format("late")
        + email_task("other")
        + END
        + chain("start", "race", "got", "done")
        + chain("race", "late", "done")
        + flow("sneak", "other", "got")
        + flow("f_other", "start", "other"),
        ("got", "shared_catch_event"),
        id="catch event shared with another path",
    ),
]


@pytest.mark.parametrize(("body", "expected"), STRUCTURE)
def test_structure_outside_the_subset(body: str, expected: tuple[str | None, str]) -> None:
    assert expected in codes(body, definitions=MESSAGES)

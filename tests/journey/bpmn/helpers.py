"""Small BPMN documents for the mapping tests: a process body wrapped in a full document."""

from __future__ import annotations

import itertools
from typing import Any

from journey.bpmn import BpmnProblem, import_bpmn

NAMESPACES = (
    'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" '
    'xmlns:xflow="https://journey.dev/schema/xflow/1.0"'
)


def document(body: str, *, definitions: str = "", process_attrs: str = 'name="Test"') -> str:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<bpmn:definitions {NAMESPACES} id="defs" targetNamespace="http://example.com">\n'
        f"{definitions}\n"
        f'<bpmn:process id="p" isExecutable="true" {process_attrs}>\n{body}\n</bpmn:process>\n'
        f"</bpmn:definitions>"
    )


def flow(flow_id: str, source: str, target: str, inner: str = "", **attrs: str) -> str:
    extra = " ".join(f'{k.replace("__", ":")}="{v}"' for k, v in attrs.items())
    return (
        f'<bpmn:sequenceFlow id="{flow_id}" sourceRef="{source}" targetRef="{target}" {extra}>'
        f"{inner}</bpmn:sequenceFlow>"
    )


def chain(*ids: str) -> str:
    """Sequence flows a->b->c named f_a_b, f_b_c."""
    return "\n".join(flow(f"f_{a}_{b}", a, b) for a, b in itertools.pairwise(ids))


START = '<bpmn:startEvent id="start"/>'
END = '<bpmn:endEvent id="done"/>'


def email_task(task_id: str, tag: str = "serviceTask", extra: str = "") -> str:
    return (
        f'<bpmn:{tag} id="{task_id}" xflow:action="email" xflow:to="{{{{ user.email }}}}" '
        f'xflow:subject="Hi" xflow:text="Hello">{extra}</bpmn:{tag}>'
    )


def mapped(body: str, **kwargs: Any) -> dict[str, Any]:
    """The validated journey (as JSON) that `body` maps to; fails the test on any problem."""
    result = import_bpmn(document(body, **kwargs))
    assert result.problems == [], "\n".join(map(str, result.problems))
    assert result.document is not None
    from journey.bpmn.canonical import document_json

    return document_json(result.document)


def nodes_of(body: str, **kwargs: Any) -> dict[str, dict[str, Any]]:
    return {node["id"]: node for node in mapped(body, **kwargs)["nodes"]}


def problems(body: str, **kwargs: Any) -> list[BpmnProblem]:
    result = import_bpmn(document(body, **kwargs))
    assert result.document is None
    assert result.problems
    return result.problems


def codes(body: str, **kwargs: Any) -> set[tuple[str | None, str]]:
    """(element id, code) of every problem."""
    return {(problem.element_id, problem.code) for problem in problems(body, **kwargs)}

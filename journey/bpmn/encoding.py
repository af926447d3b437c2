"""How journey values are written into BPMN so they read back exactly (export side).

XML cannot carry every string: control characters other than tab and newline are illegal, and
a parser turns a carriage return in element text into a newline. A value that would not survive
is written as a JSON parameter instead (JSON escapes both), so export never loses a character.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import timedelta
from typing import Any
from xml.etree.ElementTree import Element, SubElement

from pydantic import BaseModel

from dsl.conditions import AllOf, AnyOf, Leaf, NotOf
from dsl.durations import format_duration
from dsl.nodes import NodeBase, RetryPolicy, UntilTime
from journey.bpmn.expressions import render_condition
from journey.bpmn.namespaces import (
    CONDITION_LANGUAGE,
    JSON_CONDITION_LANGUAGE,
    XSI,
    bpmn,
    xflow,
)

# Characters XML 1.0 cannot hold at all.
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_CONDITION_TYPES = (AllOf, AnyOf, NotOf, Leaf)
_PRUNED_MODELS = (RetryPolicy, UntilTime)
XSI_TYPE = f"{{{XSI}}}type"
FORMAL_EXPRESSION = "bpmn:tFormalExpression"


def attribute_safe(text: str) -> bool:
    """An attribute keeps tab, newline and carriage return (ElementTree escapes them)."""
    return _ILLEGAL.search(text) is None


def text_safe(text: str) -> bool:
    return "\r" not in text and _ILLEGAL.search(text) is None


def to_json(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if text_safe(text) else json.dumps(value)


class Param:
    """One `<xflow:Parameter>`: its name, `type` attribute (None = text) and text."""

    def __init__(self, name: str, kind: str | None, text: str) -> None:
        self.name, self.kind, self.text = name, kind, text


def encode(name: str, value: Any) -> Param:
    """A field's value as a parameter: text when XML holds it, else JSON or a condition."""
    if isinstance(value, _CONDITION_TYPES):
        dumped = value.model_dump(mode="json", by_alias=True)
        rendered = render_condition(dumped)
        if rendered is not None and text_safe(rendered):
            return Param(name, "condition", rendered)
        return Param(name, "condition", to_json(dumped))
    dumped = plain(value)
    if isinstance(dumped, str) and text_safe(dumped):
        return Param(name, None, dumped)
    return Param(name, "json", to_json(dumped))


def plain(value: Any) -> Any:
    """The JSON form of a field value, as the DSL would read it back."""
    if isinstance(value, _PRUNED_MODELS):
        return value.model_dump(mode="json", by_alias=True, exclude_none=True)
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True)
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, list):
        return [plain(item) for item in value]
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    return value


def non_default_fields(model: BaseModel, skip: set[str]) -> dict[str, Any]:
    """Field alias -> value for every field that differs from its default, `skip` left out."""
    fields = {}
    for name, info in type(model).model_fields.items():
        key = info.alias or name
        if key in skip or name in skip:
            continue
        value = getattr(model, name)
        if not info.is_required() and value == info.get_default(call_default_factory=True):
            continue
        fields[key] = value
    return fields


def node_params(node: NodeBase, structural: set[str]) -> dict[str, Any]:
    return non_default_fields(node, {"id", "type", *structural})


def parameters(params: dict[str, object]) -> Iterable[Element]:
    for name, value in params.items():
        param = encode(name, value)
        attrs = {"name": param.name} | ({"type": param.kind} if param.kind else {})
        element = Element(xflow("Parameter"), attrs)
        element.text = param.text
        yield element


def timer_definition(definition_id: str, duration: str) -> Element:
    definition = Element(bpmn("timerEventDefinition"), {"id": f"{definition_id}.d"})
    SubElement(definition, bpmn("timeDuration"), {XSI_TYPE: FORMAL_EXPRESSION}).text = duration
    return definition


def condition_expression(condition: object) -> Element:
    param = encode("when", condition)
    language = JSON_CONDITION_LANGUAGE if param.text.startswith("{") else CONDITION_LANGUAGE
    expression = Element(
        bpmn("conditionExpression"), {XSI_TYPE: FORMAL_EXPRESSION, "language": language}
    )
    expression.text = param.text
    return expression

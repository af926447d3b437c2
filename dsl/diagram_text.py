"""The words of a journey diagram: one-line readings of nodes and conditions, and Mermaid-safe
label text (dsl/diagram.py draws them). Pure; no I/O.

Labels are always quoted; everything that could end the quote or be read as markup is written
as a Mermaid entity code (`#quot;`, `#35;`, ...), so any journey text renders literally, and
line breaks become `<br/>`.
"""

from __future__ import annotations

from typing import Any

from dsl.conditions import AllOf, AnyOf, Leaf, NotOf, Ref
from dsl.durations import format_duration
from dsl.nodes import (
    ConditionNode,
    DelayNode,
    EmailNode,
    EmitEventNode,
    EndNode,
    LifecycleTransitionNode,
    NodeBase,
    ParallelNode,
    SplitNode,
    SubJourneyNode,
    UpdateAttributesNode,
    WaitForEventNode,
    WebhookNode,
)

__all__ = ["MAX_LINE", "describe_condition", "escape_label", "node_summary", "short", "type_of"]

MAX_LINE = 60

# Written as entity codes inside quoted labels. One pass over the text (never str.replace in
# sequence: the codes themselves contain `#` and `;`).
_ENTITIES = {
    '"': "#quot;",
    "#": "#35;",
    "&": "#amp;",
    "<": "#lt;",
    ">": "#gt;",
    "|": "#124;",
    "`": "#96;",
    "[": "#91;",
    "]": "#93;",
    "{": "#123;",
    "}": "#125;",
    "(": "#40;",
    ")": "#41;",
}


def escape_label(text: str) -> str:
    """`text` safe inside a quoted Mermaid label: entity codes, and `<br/>` for line breaks."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "<br/>".join("".join(_escape_char(char) for char in line) for line in lines)


def _escape_char(char: str) -> str:
    if char in _ENTITIES:
        return _ENTITIES[char]
    if char < " " or char == "\x7f":  # other control characters: a tab or NUL is not text
        return " "
    return char


def type_of(node: NodeBase) -> str:
    return str(getattr(node, "type", ""))


def short(text: str, limit: int = MAX_LINE) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _value(value: Any) -> str:
    if isinstance(value, Ref):
        return value.ref
    if isinstance(value, str):
        return f"'{value}'"
    if isinstance(value, list):
        return "[" + ", ".join(_value(item) for item in value) + "]"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def describe_condition(condition: Any) -> str:
    """A one-line reading of a condition, e.g. `user.attributes.plan in ['pro', 'team']`."""
    if isinstance(condition, Leaf):
        if "value" not in condition.model_fields_set:
            return f"{condition.field} {condition.op.value}"
        return f"{condition.field} {condition.op.value} {_value(condition.value)}"
    if isinstance(condition, AllOf):
        return " and ".join(f"({describe_condition(part)})" for part in condition.all)
    if isinstance(condition, AnyOf):
        return " or ".join(f"({describe_condition(part)})" for part in condition.any)
    if isinstance(condition, NotOf):
        return f"not ({describe_condition(condition.not_)})"
    return "?"


def _delay_summary(node: DelayNode) -> str:
    if node.duration is not None:
        return f"delay {format_duration(node.duration)}"
    if node.until_field is not None:
        return f"delay until {node.until_field}"
    assert node.until_time is not None
    at = node.until_time
    days = "" if len(at.weekdays) == 7 else " " + ",".join(at.weekdays)
    return f"delay until {at.hour:02d}:{at.minute:02d}{days}"


def node_summary(node: NodeBase) -> str:
    """What the node does, in one line."""
    if isinstance(node, EmailNode):
        return f"email: {node.subject}"
    if isinstance(node, WebhookNode):
        return f"webhook: {node.method} {node.url}"
    if isinstance(node, UpdateAttributesNode):
        return "update: " + ", ".join(f"{op.op} {op.path}" for op in node.operations)
    if isinstance(node, EmitEventNode):
        return f"emit event {node.event_type}"
    if isinstance(node, LifecycleTransitionNode):
        return f"stage → {node.stage.value}"
    if isinstance(node, ConditionNode):
        return "condition"
    if isinstance(node, SplitNode):
        return "split"
    if isinstance(node, DelayNode):
        return _delay_summary(node)
    if isinstance(node, WaitForEventNode):
        return f"wait for {node.event_type}"
    if isinstance(node, ParallelNode):
        return f"parallel (join {node.join})"
    if isinstance(node, SubJourneyNode):
        return f"sub-journey {node.journey_id}" + ("" if node.wait else " (not awaited)")
    if isinstance(node, EndNode):
        return f"end: {node.outcome}"
    return type_of(node) or "node"

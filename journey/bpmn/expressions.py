"""Condition expressions on BPMN sequence flows: the DSL's JSON conditions, or a simple syntax.

A `conditionExpression` (or an xflow parameter of type `condition`) holds either a JSON
condition of the shared language (dsl.conditions), recognised by its leading `{`, or an
expression in this syntax, optionally wrapped in `${...}` as Camunda Modeler writes them:

    user.attributes.plan == "pro" and not exists(user.attributes.churned_at)
    event.properties.total >= 100 or user.attributes.plan in ["team", "business"]
    starts_with(user.email, "admin@") and contains(user.attributes.tags, "beta")

Fields are dotted paths from `user`, `event` or `vars` (`event.properties["cart-id"]` for a
segment that is not a name); comparisons are `== != > >= < <= in` and `not in`; functions are
`exists`, `not_exists`, `contains` and `starts_with`; `and`, `or`, `not` and parentheses
combine them; literals are JSON-like (`"text"`, `12`, `1.5`, `true`, `false`, `null`, lists,
objects). A field on the right of a comparison is a reference (`{"ref": ...}`). The text is
read with Python's `ast` parser and translated node by node: nothing is ever evaluated.
"""

from __future__ import annotations

import ast
import json
import keyword
import re
from typing import Any

MAX_EXPRESSION_CHARS = 20_000
_WRAPPED = re.compile(r"^\s*[$#]\{(?P<body>.*)\}\s*$", re.DOTALL)
_COMPARE = {
    ast.Eq: "eq",
    ast.NotEq: "ne",
    ast.Gt: "gt",
    ast.GtE: "gte",
    ast.Lt: "lt",
    ast.LtE: "lte",
    ast.In: "in",
    ast.NotIn: "not_in",
}
_MIRRORED = {"eq": "eq", "ne": "ne", "gt": "lt", "gte": "lte", "lt": "gt", "lte": "gte"}
_SYMBOL = {"eq": "==", "ne": "!=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<=", "in": "in"}
_SYMBOL["not_in"] = "not in"
_FUNCTIONS = {"exists": 1, "not_exists": 1, "contains": 2, "starts_with": 2}
_LITERAL_NAMES = {"true": True, "false": False, "null": None, "True": True, "False": False}
_LITERAL_NAMES["None"] = None


class ConditionSyntaxError(ValueError):
    """The expression is neither a JSON condition nor valid simple syntax; the message says why."""


def parse_condition(text: str) -> Any:
    """The JSON condition that `text` denotes (not yet validated against the DSL's model)."""
    stripped = text.strip()
    if not stripped:
        raise ConditionSyntaxError("the condition is empty")
    if len(stripped) > MAX_EXPRESSION_CHARS:
        raise ConditionSyntaxError(f"the condition is longer than {MAX_EXPRESSION_CHARS} chars")
    if stripped.startswith("{"):
        try:
            return json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise ConditionSyntaxError(f"not valid JSON: {exc}") from None
    wrapped = _WRAPPED.match(stripped)
    source = wrapped.group("body") if wrapped else stripped
    try:
        tree = ast.parse(source.strip(), mode="eval")
        return _condition(tree.body)
    except SyntaxError as exc:  # from Python's parser; the translator raises its own errors
        where = f" at column {exc.offset}" if exc.offset else ""
        raise ConditionSyntaxError(f"syntax error{where}: {exc.msg}") from None
    except (RecursionError, MemoryError):
        raise ConditionSyntaxError("the condition is nested too deeply") from None


def render_condition(condition: Any) -> str | None:
    """The simple-syntax text of a JSON condition, or None when that text would not read back
    as exactly the same condition (then the caller writes JSON)."""
    try:
        text = _render(condition)
        back = parse_condition(text)
    except (ConditionSyntaxError, KeyError, TypeError, ValueError, RecursionError):
        return None
    return text if _same(back, condition) else None


def _same(left: Any, right: Any) -> bool:
    return json.dumps(left, sort_keys=True) == json.dumps(right, sort_keys=True)


# --- reading ---------------------------------------------------------------------------


def _invalid(message: str) -> ConditionSyntaxError:
    return ConditionSyntaxError(message)


def _condition(node: ast.expr) -> Any:
    if isinstance(node, ast.BoolOp):
        key = "all" if isinstance(node.op, ast.And) else "any"
        return {key: [_condition(value) for value in node.values]}
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return {"not": _condition(node.operand)}
    if isinstance(node, ast.Compare):
        leaves = []
        left = node.left
        for op, right in zip(node.ops, node.comparators, strict=True):
            leaves.append(_comparison(left, op, right))
            left = right
        return leaves[0] if len(leaves) == 1 else {"all": leaves}
    if isinstance(node, ast.Call):
        return _call(node)
    raise _invalid(f"expected a comparison, a function call, and/or/not; got {_what(node)}")


def _comparison(left: ast.expr, op: ast.cmpop, right: ast.expr) -> dict[str, Any]:
    name = _COMPARE.get(type(op))
    if name is None:
        raise _invalid(f"the operator {_what(op)} is not supported; use == or !=")
    if _is_field(left):
        return {"field": _field(left), "op": name, "value": _value(right)}
    if not _is_field(right):
        raise _invalid("a comparison needs a field (user..., event... or vars...) on one side")
    if name in ("in", "not_in"):  # "beta" in user.attributes.tags
        leaf = {"field": _field(right), "op": "contains", "value": _literal(left)}
        return leaf if name == "in" else {"not": leaf}
    return {"field": _field(right), "op": _MIRRORED[name], "value": _literal(left)}


def _call(node: ast.Call) -> dict[str, Any]:
    function = node.func.id if isinstance(node.func, ast.Name) else None
    if function not in _FUNCTIONS:
        raise _invalid(f"unknown function; use one of {', '.join(_FUNCTIONS)}")
    if node.keywords or len(node.args) != _FUNCTIONS[function]:
        raise _invalid(f"{function}() takes {_FUNCTIONS[function]} positional argument(s)")
    leaf: dict[str, Any] = {"field": _field(node.args[0]), "op": function}
    if len(node.args) == 2:
        leaf["value"] = _value(node.args[1])
    return leaf


def _is_field(node: ast.expr) -> bool:
    while isinstance(node, ast.Attribute | ast.Subscript):
        node = node.value
    return isinstance(node, ast.Name) and node.id not in _LITERAL_NAMES


def _field(node: ast.expr) -> str:
    segments: list[str] = []
    while isinstance(node, ast.Attribute | ast.Subscript):
        if isinstance(node, ast.Attribute):
            segments.append(node.attr)
        else:
            key = node.slice
            if not isinstance(key, ast.Constant) or isinstance(key.value, bool):
                raise _invalid("a [..] segment must be a string or a number")
            if not isinstance(key.value, str | int):
                raise _invalid("a [..] segment must be a string or a number")
            segments.append(str(key.value))
        node = node.value
    if not isinstance(node, ast.Name) or node.id in _LITERAL_NAMES:
        raise _invalid(f"expected a field such as user.attributes.plan; got {_what(node)}")
    return ".".join([node.id, *reversed(segments)])


def _value(node: ast.expr) -> Any:
    return {"ref": _field(node)} if _is_field(node) else _literal(node)


def _literal(node: ast.expr) -> Any:
    if isinstance(node, ast.Constant) and (
        node.value is None or isinstance(node.value, str | int | float | bool)
    ):
        return node.value
    if isinstance(node, ast.Name) and node.id in _LITERAL_NAMES:
        return _LITERAL_NAMES[node.id]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        number = _literal(node.operand)
        if isinstance(number, bool) or not isinstance(number, int | float):
            raise _invalid("a sign applies to numbers only")
        return -number if isinstance(node.op, ast.USub) else number
    if isinstance(node, ast.List | ast.Tuple):
        return [_literal(item) for item in node.elts]
    if isinstance(node, ast.Dict):
        result: dict[str, Any] = {}
        for key, item in zip(node.keys, node.values, strict=True):
            if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
                raise _invalid("object keys must be strings")
            result[key.value] = _literal(item)
        return result
    raise _invalid(f"expected a literal value; got {_what(node)}")


def _what(node: ast.AST) -> str:
    names = {ast.BinOp: "arithmetic", ast.Is: "'is'", ast.IsNot: "'is not'", ast.Name: "a name"}
    return names.get(type(node), type(node).__name__)


# --- writing ---------------------------------------------------------------------------


def _render(condition: Any) -> str:
    if "all" in condition or "any" in condition:
        key = "all" if "all" in condition else "any"
        joiner = " and " if key == "all" else " or "
        return joiner.join(_render_operand(child) for child in condition[key])
    if "not" in condition:
        return "not " + _render_operand(condition["not"])
    field, op = _render_field(condition["field"]), condition["op"]
    if op in ("exists", "not_exists"):
        return f"{op}({field})"
    value = _render_value(condition["value"])
    if op in ("contains", "starts_with"):
        return f"{op}({field}, {value})"
    return f"{field} {_SYMBOL[op]} {value}"


def _render_operand(condition: Any) -> str:
    text = _render(condition)
    return f"({text})" if "all" in condition or "any" in condition else text


def _render_field(path: str) -> str:
    root, *segments = path.split(".")
    out = root
    for segment in segments:
        if segment.isidentifier() and not keyword.iskeyword(segment):
            out += f".{segment}"
        else:
            out += f"[{json.dumps(segment)}]"
    return out


def _render_value(value: Any) -> str:
    if isinstance(value, dict) and set(value) == {"ref"}:
        return _render_field(value["ref"])
    if isinstance(value, list):
        return "[" + ", ".join(_render_value(item) for item in value) + "]"
    if isinstance(value, dict):
        items = (f"{json.dumps(key)}: {_render_value(item)}" for key, item in value.items())
        return "{" + ", ".join(items) + "}"
    return json.dumps(value, ensure_ascii=False)

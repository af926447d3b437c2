"""The PostgreSQL primitives of the segment compiler: JSONB operators and functions.

Attribute paths walk `users.attributes` with `->` (a text key on an array, or an integer on an
object, yields NULL: "missing"); a decimal segment tries the key and then the index. JSON
equality and number order are JSONB's own `=`/`<` (numbers compare as exact decimals, types
never coerce); strings order with COLLATE "C" (code points, as Python). Array elements come from
`jsonb_array_elements` over a value that is made an array first (`'[]'` otherwise), because
PostgreSQL may evaluate the type check after the function, which fails on non-arrays.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Integer,
    Text,
    case,
    cast,
    collate,
    exists,
    false,
    func,
    literal,
    literal_column,
    null,
    select,
    true,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.sql.elements import ColumnElement

from dsl.conditions import Op
from journey.services.segments.sql import (
    ORDER_OPS,
    Backend,
    Bool,
    Const,
    array_index,
    column_of,
    field_parts,
)

_TYPES = {
    "null": "null",
    "bool": "boolean",
    "number": "number",
    "string": "string",
    "array": "array",
    "object": "object",
}
# to_char pattern of `user.created_at`; see journey/services/segments/profile.py:created_at_text.
CREATED_AT_PATTERN = 'YYYY-MM-DD"T"HH24:MI:SS"Z"'


@dataclass(frozen=True)
class Json:
    """A JSONB value; SQL NULL means missing when `nullable`."""

    expr: ColumnElement[Any]
    nullable: bool = True


@dataclass(frozen=True)
class TextValue:
    """A text column; SQL NULL is a present JSON null."""

    expr: ColumnElement[Any]
    nullable: bool = True


def _jsonb(text: str) -> ColumnElement[Any]:
    return cast(literal(text, Text), JSONB)


def _step(value: ColumnElement[Any], segment: str) -> ColumnElement[Any]:
    by_key = value.op("->", return_type=JSONB)(literal(segment, Text))
    index = array_index(segment)
    if index is None:
        return by_key
    # `-> 0` on a scalar returns the scalar itself (PostgreSQL stores it as a 1-item array).
    item = value.op("->", return_type=JSONB)(literal(index, Integer))
    by_index = case((func.jsonb_typeof(value) == "array", item), else_=null())
    return func.coalesce(by_key, by_index, type_=JSONB)


def _safe(value: Bool) -> Bool:
    return func.coalesce(value, false())


class PostgresBackend(Backend):
    def field(self, path: str) -> Json | TextValue:
        head, rest = field_parts(path)
        if head == "created_at":
            moment = func.timezone("UTC", column_of("created_at"))
            return TextValue(func.to_char(moment, CREATED_AT_PATTERN))
        if head != "attributes":
            return TextValue(column_of(head), nullable=head == "email")
        attributes: ColumnElement[Any] = type_coerce(column_of("attributes"), JSONB)
        if not rest:
            whole = case(
                (func.jsonb_typeof(attributes) == "object", attributes), else_=_jsonb("{}")
            )
            return Json(whole, nullable=False)
        value = attributes
        for segment in rest:
            value = _step(value, segment)
        return Json(value)

    def missing(self, operand: Any) -> Bool | None:
        if isinstance(operand, Json) and operand.nullable:
            return operand.expr.is_(None)
        return None

    def is_kind(self, operand: Any, kind: str) -> Bool:
        if isinstance(operand, TextValue):
            if kind == "string":
                return operand.expr.is_not(None) if operand.nullable else true()
            if kind == "null" and operand.nullable:
                return operand.expr.is_(None)
            return false()
        return _safe(func.jsonb_typeof(operand.expr) == _TYPES[kind])

    def json(self, operand: Any) -> ColumnElement[Any]:
        if isinstance(operand, Const):
            return _jsonb(json.dumps(operand.value))
        if isinstance(operand, TextValue):
            return func.coalesce(func.to_jsonb(operand.expr), _jsonb("null"), type_=JSONB)
        expr: ColumnElement[Any] = operand.expr
        return expr

    def text(self, operand: Any) -> ColumnElement[Any]:
        if isinstance(operand, Const):
            return literal(operand.value, Text)
        if isinstance(operand, TextValue):
            return operand.expr
        return operand.expr.op("#>>", return_type=Text)(literal_column("'{}'"))

    def equal(self, a: Any, b: Any) -> Bool:
        if isinstance(a, TextValue) and isinstance(b, Const):
            if b.kind == "string":
                return _safe(a.expr == literal(b.value, Text))
            return self.is_kind(a, "null") if b.kind == "null" else false()
        return _safe(self.json(a).op("=", is_comparison=True)(self.json(b)))

    def any_element(self, array: Any, predicate: Callable[[Any], Bool]) -> Bool:
        if isinstance(array, TextValue):
            return false()
        value = array.expr
        only_arrays = case((func.jsonb_typeof(value) == "array", value), else_=_jsonb("[]"))
        items = func.jsonb_array_elements(only_arrays).table_valued("value")
        item = Json(type_coerce(items.c.value, JSONB), nullable=False)
        return exists(select(literal(1)).select_from(items).where(predicate(item)))

    def order(self, op: Op, a: Any, b: Any, kind: str) -> Bool:
        compare = ORDER_OPS[op]
        if kind == "number":
            return _safe(self.json(a).op(compare, is_comparison=True)(self.json(b)))
        left = collate(self.text(a), "C")
        return _safe(left.op(compare, is_comparison=True)(self.text(b)))

    def substring(self, haystack: Any, needle: Any) -> Bool:
        return _safe(func.strpos(self.text(haystack), self.text(needle)) > 0)

    def prefix(self, text: Any, start: Any) -> Bool:
        return _safe(func.starts_with(self.text(text), self.text(start)))

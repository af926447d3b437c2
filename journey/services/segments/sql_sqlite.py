"""The SQLite primitives of the segment compiler: JSON1 functions and the `->`/`->>` operators.

A field value is JSON text (`users.attributes -> '$."a"."b"'`, SQL NULL when the path does not
resolve); its kind is `json_type` and its SQL value `->> '$'`. Elements of `json_each` and nodes
of `json_tree` are operands too (their `type`, `atom` and `value` columns). SQLite compares
integers with reals exactly and text with BINARY collation (code points, as Python).

JSON equality of two arrays or objects read at run time pairs the nodes of both `json_tree`s by
their path (`fullkey`): equal counts, and every node of one has a node of the same kind and
value at the same path in the other. Object keys are compared as stored; Journey always writes
JSON through one serializer, so a key is spelled the same way in every row. Equality with a
literal array or object is unrolled while compiling (length or key count, then each item).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, exists, false, func, literal, null, select, true
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
    "null": ("null",),
    "bool": ("true", "false"),
    "number": ("integer", "real"),
    "string": ("text",),
    "array": ("array",),
    "object": ("object",),
}
_CONTAINERS = ("array", "object")


@dataclass(frozen=True)
class Json:
    """JSON text; SQL NULL means missing when `nullable`."""

    expr: ColumnElement[Any]
    nullable: bool = True

    @property
    def type(self) -> ColumnElement[Any]:
        return func.json_type(self.expr)

    @property
    def atom(self) -> ColumnElement[Any]:
        return self.expr.op("->>")(literal("$"))

    @property
    def container(self) -> ColumnElement[Any]:
        return self.expr


@dataclass(frozen=True)
class Node:
    """A row of `json_each` / `json_tree`: never missing."""

    type: ColumnElement[Any]
    atom: ColumnElement[Any]
    value: ColumnElement[Any]

    @property
    def container(self) -> ColumnElement[Any]:
        # `value` is the raw SQL value for scalars, which JSON functions would reject.
        return case((self.type.in_(_CONTAINERS), self.value), else_=null())


@dataclass(frozen=True)
class TextValue:
    """A text column; SQL NULL is a present JSON null."""

    expr: ColumnElement[Any]
    nullable: bool = True


def _path(value: ColumnElement[Any], keys: list[str]) -> ColumnElement[Any]:
    return value.op("->")(literal("$" + "".join(f'."{key}"' for key in keys)))


def _walk(document: ColumnElement[Any], segments: tuple[str, ...]) -> ColumnElement[Any]:
    value, keys = document, []
    for segment in segments:
        index = array_index(segment)
        if index is None:
            keys.append(segment)
            continue
        if keys:
            value, keys = _path(value, keys), []
        value = func.coalesce(_path(value, [segment]), value.op("->")(literal(f"$[{index}]")))
    return _path(value, keys) if keys else value


def _safe(value: Bool) -> Bool:
    return func.coalesce(value, false())


def _atom(operand: Any) -> ColumnElement[Any]:
    if isinstance(operand, Const):
        return literal(operand.value)
    if isinstance(operand, TextValue):
        return operand.expr
    atom: ColumnElement[Any] = operand.atom
    return atom


def _same_node(p: Any, q: Any) -> Bool:
    numbers = _TYPES["number"]
    return _safe(
        ((p.c.type == q.c.type) & p.c.atom.is_(q.c.atom))
        | (p.c.type.in_(numbers) & q.c.type.in_(numbers) & (p.c.atom == q.c.atom))
    )


def _tree_equal(a: ColumnElement[Any], b: ColumnElement[Any]) -> Bool:
    left = func.json_tree(a).table_valued("fullkey", "type", "atom")
    right = func.json_tree(b).table_valued("fullkey", "type", "atom")
    counted = select(func.count()).select_from(left).scalar_subquery()
    other = func.json_tree(b).table_valued("fullkey", "type", "atom")
    counted_other = select(func.count()).select_from(other).scalar_subquery()
    matched = exists(
        select(literal(1))
        .select_from(right)
        .where(right.c.fullkey == left.c.fullkey, _same_node(left, right))
    )
    unmatched = exists(select(literal(1)).select_from(left).where(~matched))
    return _safe((counted == counted_other) & ~unmatched)


class SqliteBackend(Backend):
    def field(self, path: str) -> Json | TextValue:
        head, rest = field_parts(path)
        if head == "created_at":
            stamp = column_of("created_at")
            text = func.substr(stamp, 1, 10).op("||")("T").op("||")(func.substr(stamp, 12, 8))
            return TextValue(text.op("||")("Z"))
        if head != "attributes":
            return TextValue(column_of(head), nullable=head == "email")
        attributes = column_of("attributes")
        if not rest:
            whole = case((func.json_type(attributes) == "object", attributes), else_="{}")
            return Json(whole, nullable=False)
        return Json(_walk(attributes, rest))

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
        return _safe(operand.type.in_(_TYPES[kind]))

    def equal(self, a: Any, b: Any) -> Bool:
        if isinstance(b, Const):
            return self._equal_const(a, b)
        if isinstance(b, TextValue) and not isinstance(a, TextValue):
            a, b = b, a
        if isinstance(a, TextValue):
            same_text = self.is_kind(b, "string") & _safe(_atom(b) == a.expr)
            if not a.nullable:
                return same_text
            both_null = a.expr.is_(None) & self.is_kind(b, "null")
            return both_null | (a.expr.is_not(None) & same_text)
        scalars = [
            self.is_kind(a, kind) & self.is_kind(b, kind) & _safe(a.atom == b.atom)
            for kind in ("number", "string")
        ]
        flags = [_safe((a.type == name) & (b.type == name)) for name in ("null", "true", "false")]
        trees = [
            self.is_kind(a, kind) & self.is_kind(b, kind) & _tree_equal(a.container, b.container)
            for kind in _CONTAINERS
        ]
        return _safe(scalars[0] | scalars[1] | flags[0] | flags[1] | flags[2] | trees[0] | trees[1])

    def _equal_const(self, a: Any, b: Const) -> Bool:
        if isinstance(a, TextValue) and b.kind not in ("string", "null"):
            return false()
        if b.kind in ("null",):
            return self.is_kind(a, "null")
        if b.kind == "bool":
            return _safe(a.type == ("true" if b.value else "false"))
        if b.kind in ("number", "string"):
            return self.is_kind(a, b.kind) & _safe(_atom(a) == literal(b.value))
        if b.kind == "array":
            items = [
                self.equal(Json(a.container.op("->")(literal(f"$[{i}]")), False), Const(item))
                for i, item in enumerate(b.value)
            ]
            length = _safe(func.json_array_length(a.container) == len(b.value))
            return self.is_kind(a, "array") & length & _all(items)
        entries = func.json_each(a.container).table_valued("key")
        size = select(func.count()).select_from(entries).scalar_subquery()
        members = [self._has_member(a, key, Const(item)) for key, item in b.value.items()]
        return self.is_kind(a, "object") & _safe(size == len(b.value)) & _all(members)

    def _has_member(self, a: Any, key: str, item: Const) -> Bool:
        entries = func.json_each(a.container).table_valued("key", "value", "type", "atom")
        node = Node(entries.c.type, entries.c.atom, entries.c.value)
        return exists(
            select(literal(1))
            .select_from(entries)
            .where(entries.c.key == literal(key), self.equal(node, item))
        )

    def any_element(self, array: Any, predicate: Callable[[Any], Bool]) -> Bool:
        if isinstance(array, TextValue):
            return false()
        only_arrays = case((array.type == "array", array.container), else_="[]")
        items = func.json_each(only_arrays).table_valued("value", "type", "atom")
        node = Node(items.c.type, items.c.atom, items.c.value)
        return exists(select(literal(1)).select_from(items).where(predicate(node)))

    def order(self, op: Op, a: Any, b: Any, _kind: str) -> Bool:
        return _safe(_atom(a).op(ORDER_OPS[op], is_comparison=True)(_atom(b)))

    def substring(self, haystack: Any, needle: Any) -> Bool:
        return _safe(func.instr(_atom(haystack), _atom(needle)) > 0)

    def prefix(self, text: Any, start: Any) -> Bool:
        head = func.substr(_atom(text), 1, func.length(_atom(start)))
        return _safe(head == _atom(start))


def _all(parts: list[Bool]) -> Bool:
    result: Bool = true()
    for part in parts:
        result = result & part
    return result

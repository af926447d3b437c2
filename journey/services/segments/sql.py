"""Compile a segment condition into one SQLAlchemy boolean over the `users` table.

`membership_clause` is what every SQL answer about segments uses (members, counts, samples,
overlaps, the membership refresh). Its result for a user equals
`dsl.conditions.evaluate(condition, {"user": segment_profile(user)})` (journey/services/segments/
profile.py) on PostgreSQL (JSONB) and SQLite (JSON1); tests/journey/services/segments/
test_sql_agreement.py checks that property on both databases.

The semantics, leaf by leaf (the module docstring of dsl/conditions.py is the reference):

* Fields: `user.id`, `user.email`, `user.current_lifecycle_stage`, `user.created_at` are
  always present; a SQL NULL (email, created_at) is a present JSON null. `user.attributes` is
  always present: an object (`{}` when the column is NULL). `user.attributes.a.b` walks JSON:
  object keys by name, array items by a decimal segment (`tags.0`), anything else is missing.
* exists: present and not null; not_exists: its negation.
* A missing field or unresolved ref: ne and not_in are true, every other op false.
* eq/ne: JSON equality by type, no coercion except int/float (1 = 1.0, true != 1, "1" != 1);
  arrays by position, objects by keys, both deep.
* in/not_in: membership of the field in the list (literal, or a ref that must hold a list;
  a ref to anything else makes both false).
* contains: substring when field and value are strings, strict membership when the field is an
  array, otherwise false. starts_with: strings only.
* gt/gte/lt/lte: two numbers, or two strings by code point (PostgreSQL compares with
  COLLATE "C", whatever the database's collation); any other pairing is false.

Deliberately never used: LIKE (SQLite's is case-insensitive and both need `%`/`_` escaping;
substrings are `strpos`/`instr`, prefixes compare a leading substring) and casts of JSON text
to numbers (PostgreSQL evaluates AND operands in any order, so a guarded cast can still fail).
Limits: numbers are compared as the database stores them (PostgreSQL: exact decimals; SQLite:
64-bit integers and doubles), which matches Python for integers and doubles within +/-2**53;
beyond that an integer and a double may compare differently. Strings cannot hold NUL.

Every compiled leaf is TRUE or FALSE, never SQL NULL, so `not` and `any` keep two-valued logic.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, false, not_, or_, true
from sqlalchemy.sql.elements import ColumnElement

from dsl.conditions import AllOf, AnyOf, Leaf, NotOf, Op, Ref, json_kind, strict_equal
from dsl.fields import split_path
from journey.core.db.models import User
from journey.services.segments.rules import ATTRIBUTES, COLUMN_FIELDS

Bool = ColumnElement[Any]
Condition = AllOf | AnyOf | NotOf | Leaf
KINDS = ("null", "bool", "number", "string", "array", "object")
ORDER_OPS = {Op.GT: ">", Op.GTE: ">=", Op.LT: "<", Op.LTE: "<="}


@dataclass(frozen=True)
class Const:
    """A literal of the condition: its kind is known while compiling."""

    value: Any

    @property
    def kind(self) -> str:
        return json_kind(self.value)


def column_of(name: str) -> ColumnElement[Any]:
    """`users.<name>` for the fields segments read."""
    column: ColumnElement[Any] = User.__table__.c[name]  # type: ignore[attr-defined]
    return column


class Backend(ABC):
    """The leaf semantics, in terms of a few primitives each database implements.

    Operands are `Const` or backend objects for a field; `missing` is None for operands that
    are never missing. Primitives may assume their operands are present, and must return TRUE
    or FALSE (never NULL) for present operands."""

    @abstractmethod
    def field(self, path: str) -> Any: ...

    @abstractmethod
    def missing(self, operand: Any) -> Bool | None: ...

    @abstractmethod
    def is_kind(self, operand: Any, kind: str) -> Bool:
        """For field operands only (constants are decided here)."""

    @abstractmethod
    def equal(self, a: Any, b: Any) -> Bool:
        """JSON equality; at most one operand is a Const."""

    @abstractmethod
    def any_element(self, array: Any, predicate: Callable[[Any], Bool]) -> Bool:
        """Whether some element of a field holding an array satisfies `predicate`."""

    @abstractmethod
    def order(self, op: Op, a: Any, b: Any, kind: str) -> Bool:
        """a <op> b for two numbers or two strings (`kind`)."""

    @abstractmethod
    def substring(self, haystack: Any, needle: Any) -> Bool: ...

    @abstractmethod
    def prefix(self, text: Any, start: Any) -> Bool: ...

    # ---- the language, on top of the primitives ---------------------------------------------

    def condition(self, condition: Condition) -> Bool:
        if isinstance(condition, AllOf):
            return and_(*(self.condition(child) for child in condition.all))
        if isinstance(condition, AnyOf):
            return or_(*(self.condition(child) for child in condition.any))
        if isinstance(condition, NotOf):
            return not_(self.condition(condition.not_))
        return self.leaf(condition)

    def leaf(self, leaf: Leaf) -> Bool:
        actual = self.field(leaf.field)
        if leaf.op in (Op.EXISTS, Op.NOT_EXISTS):
            gone = self.missing(actual)
            present = not_(self.kind(actual, "null"))
            if gone is not None:
                present = and_(not_(gone), present)
            return present if leaf.op is Op.EXISTS else not_(present)
        expected = self.field(leaf.value.ref) if isinstance(leaf.value, Ref) else Const(leaf.value)
        core = self.core(leaf.op, actual, expected)
        gone_parts = [m for m in (self.missing(actual), self.missing(expected)) if m is not None]
        if not gone_parts:
            return core
        gone = or_(*gone_parts)
        if leaf.op in (Op.NE, Op.NOT_IN):
            return or_(gone, core)
        return and_(not_(gone), core)

    def core(self, op: Op, a: Any, b: Any) -> Bool:
        """The leaf's answer when both operands are present."""
        if op in (Op.EQ, Op.NE):
            same = self.same(a, b)
            return same if op is Op.EQ else not_(same)
        if op in (Op.IN, Op.NOT_IN):
            found = self.some(b, lambda item: self.same(a, item))
            return and_(self.kind(b, "array"), found if op is Op.IN else not_(found))
        if op is Op.CONTAINS:
            within = and_(self.kind(a, "string"), self.kind(b, "string"), self.substring(a, b))
            member = and_(self.kind(a, "array"), self.some(a, lambda item: self.same(item, b)))
            return or_(within, member)
        if op is Op.STARTS_WITH:
            return and_(self.kind(a, "string"), self.kind(b, "string"), self.prefix(a, b))
        return or_(
            *(
                and_(self.kind(a, kind), self.kind(b, kind), self.order(op, a, b, kind))
                for kind in ("number", "string")
            )
        )

    # ---- constants are decided while compiling ----------------------------------------------

    def kind(self, operand: Any, kind: str) -> Bool:
        if isinstance(operand, Const):
            return true() if operand.kind == kind else false()
        return self.is_kind(operand, kind)

    def same(self, a: Any, b: Any) -> Bool:
        if isinstance(a, Const) and isinstance(b, Const):
            return true() if strict_equal(a.value, b.value) else false()
        if isinstance(a, Const):
            a, b = b, a
        return self.equal(a, b)

    def some(self, array: Any, predicate: Callable[[Any], Bool]) -> Bool:
        if isinstance(array, Const):
            if not isinstance(array.value, list | tuple) or not array.value:
                return false()
            return or_(*(predicate(Const(item)) for item in array.value))
        return self.any_element(array, predicate)


def field_parts(path: str) -> tuple[str, tuple[str, ...]]:
    """`user.attributes.a.b` -> ("attributes", ("a", "b")); `user.email` -> ("email", ())."""
    root, segments = split_path(path)
    if root != "user" or not segments:
        raise ValueError(f"segments cannot read {path!r}")
    head, rest = segments[0], segments[1:]
    if head == ATTRIBUTES or (head in COLUMN_FIELDS and not rest):
        return head, rest
    raise ValueError(f"segments cannot read {path!r}")


def array_index(segment: str) -> int | None:
    """The list index a path segment can name (as `dsl.fields.lookup` reads it), if any."""
    if segment.isdigit() and segment.isascii() and int(segment) < 2**31:
        return int(segment)
    return None

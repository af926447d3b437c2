"""The condition language: one structured JSON form, evaluated without eval.

Shapes: `{"all": [..]}`, `{"any": [..]}`, `{"not": cond}` and leaves
`{"field": "user.attributes.plan", "op": "eq", "value": "pro"}`. A leaf value is a literal or
`{"ref": "vars.entry.properties.cart_id"}`, another field of the same context.

Semantics (pure and deterministic; no exception ever escapes `evaluate`):

* A *missing* field (path does not resolve) makes eq, gt, gte, lt, lte, in, contains and
  starts_with False; ne and not_in True; exists False; not_exists True. A JSON null that is
  present is a value: eq null is True for it, but `exists` is False for null too (null = unset).
* A ref that does not resolve equals nothing: eq/in/ordering/contains/starts_with False,
  ne/not_in True.
* No coercion across types except int/float. Booleans are not numbers (True != 1).
* gt/gte/lt/lte compare two numbers or two strings (lexicographic, so ISO timestamps in the same
  format compare correctly); any other pairing is False.
* contains: substring when both are strings; membership (strict equality) when the field is a
  list; otherwise False. starts_with: strings only.
* in / not_in take a list (checked by the model; a ref resolving to a non-list makes both False).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    Discriminator,
    Field,
    JsonValue,
    SerializerFunctionWrapHandler,
    Tag,
    model_serializer,
    model_validator,
)
from pydantic_core import PydanticCustomError

from dsl.common import StrictModel
from dsl.fields import MISSING, FieldPath, lookup, split_path


class Op(StrEnum):
    EQ = "eq"
    NE = "ne"
    GT = "gt"
    GTE = "gte"
    LT = "lt"
    LTE = "lte"
    IN = "in"
    NOT_IN = "not_in"
    CONTAINS = "contains"
    STARTS_WITH = "starts_with"
    EXISTS = "exists"
    NOT_EXISTS = "not_exists"


UNARY_OPS = frozenset({Op.EXISTS, Op.NOT_EXISTS})
LIST_OPS = frozenset({Op.IN, Op.NOT_IN})


class Ref(StrictModel):
    """A leaf value read from another field of the context."""

    ref: FieldPath


def _value_tag(value: Any) -> str:
    return (
        "ref"
        if isinstance(value, Ref) or (isinstance(value, dict) and "ref" in value)
        else "literal"
    )


LeafValue = Annotated[
    Annotated[Ref, Tag("ref")] | Annotated[JsonValue, Tag("literal")],
    Discriminator(_value_tag),
]


class Leaf(StrictModel):
    """One comparison. `field` splits into `root` + `segments` for a later SQL compiler."""

    field: FieldPath
    op: Op
    value: LeafValue = None

    @property
    def root(self) -> str:
        return split_path(self.field)[0]

    @property
    def segments(self) -> tuple[str, ...]:
        return split_path(self.field)[1]

    @model_serializer(mode="wrap")
    def _value_as_required(self, handler: SerializerFunctionWrapHandler) -> Any:
        # Dumps must validate again (documents travel through Temporal payloads and the
        # database as dumps): exists/not_exists take no value, so the default None goes; the
        # other ops need one, so an explicit null stays even under `exclude_none`.
        data = handler(self)
        if isinstance(data, dict):
            if self.op in UNARY_OPS:
                data.pop("value", None)
            else:
                data.setdefault("value", None)
        return data

    @model_validator(mode="after")
    def _value_fits_op(self) -> Leaf:
        has_value = "value" in self.model_fields_set
        if self.op in UNARY_OPS and has_value:
            raise PydanticCustomError(
                "unexpected_value", "op '{op}' takes no value", {"op": str(self.op)}
            )
        if self.op not in UNARY_OPS and not has_value:
            raise PydanticCustomError(
                "missing_value", "op '{op}' needs a value", {"op": str(self.op)}
            )
        if self.op in LIST_OPS and not isinstance(self.value, list | Ref):
            raise PydanticCustomError(
                "value_not_list", "op '{op}' needs a list value (or a ref)", {"op": str(self.op)}
            )
        return self


class AllOf(StrictModel):
    all: list[Condition] = Field(min_length=1)


class AnyOf(StrictModel):
    any: list[Condition] = Field(min_length=1)


class NotOf(StrictModel):
    not_: Condition = Field(alias="not")


def _condition_tag(value: Any) -> str:
    if isinstance(value, AllOf | AnyOf | NotOf | Leaf):
        return {AllOf: "all", AnyOf: "any", NotOf: "not", Leaf: "leaf"}[type(value)]
    if isinstance(value, dict):
        for key in ("all", "any", "not"):
            if key in value:
                return key
    return "leaf"


Condition = Annotated[
    Annotated[AllOf, Tag("all")]
    | Annotated[AnyOf, Tag("any")]
    | Annotated[NotOf, Tag("not")]
    | Annotated[Leaf, Tag("leaf")],
    Discriminator(_condition_tag),
]
CONDITION_TAGS = frozenset({"all", "any", "not", "leaf"})

AllOf.model_rebuild()
AnyOf.model_rebuild()
NotOf.model_rebuild()


def json_kind(value: Any) -> str:
    """The JSON kind of a value: null, bool, number, string, array, object (or other).
    Shared with the segments' SQL compiler, which must classify literals the same way."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return "other"


def strict_equal(left: Any, right: Any) -> bool:
    """JSON equality without Python's cross-type quirks (True == 1, 1 == 1.0 is allowed)."""
    kind = json_kind(left)
    if kind != json_kind(right):
        return False
    if kind == "array":
        return len(left) == len(right) and all(map(strict_equal, left, right))
    if kind == "object":
        return left.keys() == right.keys() and all(strict_equal(left[k], right[k]) for k in left)
    try:
        return bool(left == right)
    except Exception:
        return False


def _ordered(op: Op, left: Any, right: Any) -> bool:
    kinds = (json_kind(left), json_kind(right))
    if kinds not in {("number", "number"), ("string", "string")}:
        return False
    if op is Op.GT:
        return bool(left > right)
    if op is Op.GTE:
        return bool(left >= right)
    if op is Op.LT:
        return bool(left < right)
    return bool(left <= right)


def resolve_field(path: str, context: Mapping[str, Any]) -> tuple[bool, Any]:
    """(found, value) of a field path in plain data; (False, None) when it does not resolve."""
    value = lookup(context, path)
    return (False, None) if value is MISSING else (True, value)


def evaluate_leaf(leaf: Leaf, context: Mapping[str, Any]) -> bool:
    actual = lookup(context, leaf.field)
    if leaf.op is Op.EXISTS:
        return actual is not MISSING and actual is not None
    if leaf.op is Op.NOT_EXISTS:
        return actual is MISSING or actual is None
    expected = lookup(context, leaf.value.ref) if isinstance(leaf.value, Ref) else leaf.value
    negative = leaf.op in (Op.NE, Op.NOT_IN)
    if actual is MISSING or expected is MISSING:
        return negative
    if leaf.op in (Op.EQ, Op.NE):
        return strict_equal(actual, expected) != negative
    if leaf.op in LIST_OPS:
        if not isinstance(expected, list | tuple):
            return False
        return any(strict_equal(actual, item) for item in expected) != negative
    if leaf.op is Op.CONTAINS:
        if isinstance(actual, str):
            return isinstance(expected, str) and expected in actual
        if isinstance(actual, list | tuple):
            return any(strict_equal(item, expected) for item in actual)
        return False
    if leaf.op is Op.STARTS_WITH:
        return isinstance(actual, str) and isinstance(expected, str) and actual.startswith(expected)
    return _ordered(leaf.op, actual, expected)


def evaluate(condition: AllOf | AnyOf | NotOf | Leaf, context: Mapping[str, Any]) -> bool:
    """Evaluate against plain data `{"user": .., "event": .., "vars": ..}`."""
    if isinstance(condition, AllOf):
        return all(evaluate(child, context) for child in condition.all)
    if isinstance(condition, AnyOf):
        return any(evaluate(child, context) for child in condition.any)
    if isinstance(condition, NotOf):
        return not evaluate(condition.not_, context)
    return evaluate_leaf(condition, context)


@dataclass(frozen=True)
class Failure:
    """Why part of a condition is false: `path` is a JSON pointer into the condition."""

    path: str
    reason: str
    field: str | None = None
    op: str | None = None


def explain(
    condition: AllOf | AnyOf | NotOf | Leaf, context: Mapping[str, Any], path: str = ""
) -> list[Failure]:
    """The leaves that make `condition` false ([] when it is true), for "which leaf failed"."""
    if evaluate(condition, context):
        return []
    if isinstance(condition, AllOf | AnyOf):
        key, children = (
            ("all", condition.all) if isinstance(condition, AllOf) else ("any", condition.any)
        )
        failures: list[Failure] = []
        for index, child in enumerate(children):
            failures.extend(explain(child, context, f"{path}/{key}/{index}"))
        return failures
    if isinstance(condition, NotOf):
        return [Failure(path=path, reason="the negated condition is true")]
    actual = lookup(context, condition.field)
    shown = "missing" if actual is MISSING else repr(actual)
    reason = f"{condition.field} is {shown}; {condition.op} {condition.value!r} is false"
    return [Failure(path=path, reason=reason, field=condition.field, op=str(condition.op))]

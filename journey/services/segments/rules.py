"""What a segment may say: its conditions read only the user's own fields.

Pure (no I/O): the gateway reports every problem with a JSON pointer into the submitted
conditions, and the SQL compiler relies on these checks having passed. Segments see the
profile `journey.services.segments.profile.segment_profile` builds: `user.id`, `user.email`,
`user.current_lifecycle_stage`, `user.created_at` and `user.attributes` (with any path below it).

Besides the fields, literals must be storable and comparable on both databases: no NUL
characters (PostgreSQL text cannot hold them), integers within 64 bits (SQLite's integers) and
finite numbers only. Conditions are bounded in size, so one cannot turn into a query with more
parameters than a database accepts.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any, Final

from pydantic import TypeAdapter

from dsl.conditions import AllOf, AnyOf, Condition, Leaf, NotOf, Ref
from dsl.fields import split_path
from dsl.problems import Problem, escape_segment

COLUMN_FIELDS: Final = ("id", "email", "current_lifecycle_stage", "created_at")
"""`user.<column>` fields a segment may read; `user.attributes...` is the other kind."""
ATTRIBUTES: Final = "attributes"
READABLE = (
    "user.id, user.email, user.current_lifecycle_stage, user.created_at, "
    "user.attributes and paths below it (user.attributes.plan)"
)

MAX_LITERALS: Final = 1000
"""Literal scalars in one condition (list items count one each)."""
MAX_DEPTH: Final = 32
"""Nesting of all/any/not."""
INT64: Final = 2**63 - 1

CONDITION: TypeAdapter[Any] = TypeAdapter(Condition)


def parse_condition(data: Mapping[str, Any] | None) -> AllOf | AnyOf | NotOf | Leaf | None:
    """A stored condition (`{}` or None means "every user") as the DSL model."""
    if not data:
        return None
    parsed: AllOf | AnyOf | NotOf | Leaf = CONDITION.validate_python(data)
    return parsed


def dump_condition(condition: AllOf | AnyOf | NotOf | Leaf | None) -> dict[str, Any]:
    """What `user_segments.conditions` stores: the JSON as written ({} for none)."""
    if condition is None:
        return {}
    dumped: dict[str, Any] = CONDITION.dump_python(condition, mode="json", by_alias=True)
    return dumped


def is_segment_field(path: str) -> bool:
    root, segments = split_path(path)
    if root != "user" or not segments:
        return False
    if segments[0] == ATTRIBUTES:
        return True
    return len(segments) == 1 and segments[0] in COLUMN_FIELDS


def condition_problems(condition: AllOf | AnyOf | NotOf | Leaf) -> list[Problem]:
    """Every segment-specific problem of a (schema-valid) condition; [] when it is usable.

    Paths are JSON pointers into the condition as submitted (`/all/1/field`)."""
    problems: list[Problem] = []
    literals = 0
    for path, node, depth in _nodes(condition, "", 0):
        if depth > MAX_DEPTH:
            problems.append(
                Problem(
                    path=path,
                    code="condition_too_deep",
                    message=f"conditions nest at most {MAX_DEPTH} levels",
                )
            )
            break
        if not isinstance(node, Leaf):
            continue
        if not is_segment_field(node.field):
            problems.append(_not_readable(f"{path}/field", node.field))
        if isinstance(node.value, Ref):
            if not is_segment_field(node.value.ref):
                problems.append(_not_readable(f"{path}/value/ref", node.value.ref))
        elif "value" in node.model_fields_set:
            for where, scalar in _scalars(node.value, f"{path}/value"):
                literals += 1
                problem = _literal_problem(where, scalar)
                if problem is not None:
                    problems.append(problem)
    if literals > MAX_LITERALS:
        problems.append(
            Problem(
                path="",
                code="condition_too_large",
                message=f"{literals} literal values; a segment allows at most {MAX_LITERALS}",
            )
        )
    return problems


def _not_readable(path: str, field: str) -> Problem:
    return Problem(
        path=path,
        code="segment_field",
        message=f"segments cannot read '{field}'; they read only {READABLE}",
    )


def _literal_problem(path: str, value: Any) -> Problem | None:
    if isinstance(value, str) and "\x00" in value:
        return Problem(path=path, code="nul_character", message="strings cannot contain NUL")
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and not -INT64 - 1 <= value <= INT64:
        return Problem(
            path=path, code="number_out_of_range", message="integers must fit in 64 bits"
        )
    if isinstance(value, float) and not math.isfinite(value):
        return Problem(path=path, code="number_out_of_range", message="numbers must be finite")
    return None


def _nodes(
    condition: AllOf | AnyOf | NotOf | Leaf, path: str, depth: int
) -> Iterator[tuple[str, AllOf | AnyOf | NotOf | Leaf, int]]:
    yield path, condition, depth
    if isinstance(condition, AllOf | AnyOf):
        key, children = (
            ("all", condition.all) if isinstance(condition, AllOf) else ("any", condition.any)
        )
        for index, child in enumerate(children):
            yield from _nodes(child, f"{path}/{key}/{index}", depth + 1)
    elif isinstance(condition, NotOf):
        yield from _nodes(condition.not_, f"{path}/not", depth + 1)


def _scalars(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    """Every scalar inside a literal (and every object key, as a string), with its pointer."""
    if isinstance(value, list):
        for index, item in enumerate(value):
            yield from _scalars(item, f"{path}/{index}")
    elif isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}/{escape_segment(key)}"
            yield where, key
            yield from _scalars(item, where)
    else:
        yield path, value

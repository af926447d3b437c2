"""Hypothesis strategies for segments: users as the database stores them, and conditions over
exactly the fields segments read, with values drawn from small pools so comparisons often hit.

Numbers stay within +/-2**53 and strings hold no NUL or lone surrogates: the documented limits
of the SQL compiler (journey/services/segments/sql.py).
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from typing import Any

from hypothesis import strategies as st

from dsl.conditions import Op
from dsl.fields import MISSING, lookup
from dsl.stages import LIFECYCLE_STAGES
from journey.core.db.models import User
from journey.services.segments.profile import segment_profile

LIMIT = 2**53
# Keys a field path can name (ASCII letters, digits, _ and -), and others only literals hold.
PATH_KEYS = ["a", "b", "c", "0", "1", "x-y", "_"]
OTHER_KEYS = ["a b", 'q"k', "é", "", "%", "~/"]
TRICKY = [
    "",
    "a",
    "A",
    "ab",
    "b",
    "%",
    "_",
    "a%",
    "%a",
    "a_b",
    "\\",
    "\\%",
    "é",
    "e\u0301",
    "😀",
    "pro",
    "pro_plus",
    "Pro",
    "1",
    "true",
    "null",
    "[]",
    "{}",
    " ",
    "a.b",
    "'",
    '"',
    "2026-01-01T00:00:00Z",
    "2026-01-01",
    "Acquisition",
    "u1",
    "x@example.com",
]
NUMBERS = [0, 1, -1, 2, 10, 0.0, -0.0, 1.0, 0.5, 2.5, 1e-7, -3.25, LIMIT, -LIMIT, 2**31]

# Most scalars come from a small pool, so literals, refs and stored values often meet.
POOL = [
    None,
    True,
    False,
    0,
    1,
    1.0,
    -1,
    2.5,
    "",
    "a",
    "ab",
    "A",
    "%",
    "_",
    "a%",
    "é",
    "pro",
    "1",
    "u1",
    "u2",
    "Activation",
    "2026-01-01T00:00:00Z",
]

text = st.text(
    alphabet=st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=5
)
strings = st.one_of(st.sampled_from(TRICKY), text)
numbers = st.one_of(
    st.sampled_from(NUMBERS),
    st.integers(-LIMIT, LIMIT),
    st.floats(-LIMIT, LIMIT, allow_nan=False, allow_infinity=False),
)
pooled = st.sampled_from(POOL)
pooled_strings = st.sampled_from([value for value in POOL if isinstance(value, str)])
scalars = st.one_of(pooled, pooled, pooled, st.none(), st.booleans(), numbers, strings)
keys = st.sampled_from(PATH_KEYS + OTHER_KEYS)
deep = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(keys, children, max_size=3)
    ),
    max_leaves=6,
)
shallow = st.one_of(
    scalars,
    st.lists(scalars, max_size=3),
    st.dictionaries(st.sampled_from(PATH_KEYS), scalars, max_size=3),
)
json_values = st.one_of(shallow, shallow, deep)
filled = st.dictionaries(st.sampled_from(PATH_KEYS), json_values, min_size=1, max_size=5)
attributes = st.one_of(filled, filled, filled, st.none(), st.just({}))
moments = st.one_of(
    st.none(),
    st.sampled_from(
        [datetime(2026, 1, 1, tzinfo=UTC), datetime(2025, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)]
    ),
    st.datetimes(datetime(2000, 1, 1), datetime(2030, 12, 31), timezones=st.just(UTC)),
)

FIELDS = [
    "user.id",
    "user.email",
    "user.current_lifecycle_stage",
    "user.created_at",
    "user.attributes",
    "user.attributes.a",
    "user.attributes.b",
    "user.attributes.c",
    "user.attributes.0",
    "user.attributes.x-y",
    "user.attributes.a.b",
    "user.attributes.a.0",
    "user.attributes.b.1",
    "user.attributes.a.0.b",
    "user.attributes.a.c.a",
    "user.attributes._",
]
# b and c are the richest paths (c is often a look-alike of b), so they are drawn most.
fields = st.one_of(
    st.sampled_from(["user.attributes.b", "user.attributes.c"]), st.sampled_from(FIELDS)
)
TWINS = {"user.attributes.b": "user.attributes.c", "user.attributes.c": "user.attributes.b"}


def _pick(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if depth > 2 or roll < 0.55:
        return rng.choice(POOL)
    if roll < 0.75:
        return [_pick(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    keys = rng.sample(PATH_KEYS + OTHER_KEYS, rng.randint(0, 3))
    return {key: _pick(rng, depth + 1) for key in keys}


def twin(value: Any, rng: random.Random) -> Any:
    """A value that looks like `value` but may differ in kind somewhere: true vs 1, 1 vs "1",
    1 vs 1.0, inside lists and objects too (what a sloppy comparison would confuse)."""
    if isinstance(value, list):
        return [twin(item, rng) for item in value]
    if isinstance(value, dict):
        return {key: twin(item, rng) for key, item in value.items()}
    if rng.random() < 0.5:
        return value
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float):
        return rng.choice([str(value), float(value), value == 1])
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    return value


def fixed_users(*, size: int = 40, seed: int = 7) -> list[dict[str, Any]]:
    """A deterministic batch (ids f0..) where every field path holds values of every kind,
    mostly from POOL, so generated conditions split it rather than match all or none."""
    rng = random.Random(seed)
    strings_pool = [value for value in POOL if isinstance(value, str)]
    batch = []
    for index in range(size):
        attributes: dict[str, Any] | None = {
            key: _pick(rng) for key in rng.sample(PATH_KEYS, rng.randint(1, len(PATH_KEYS)))
        }
        shape = rng.random()
        if attributes is not None and shape < 0.3:
            attributes["a"] = {"b": _pick(rng), "0": _pick(rng), "c": {"a": _pick(rng)}}
        elif attributes is not None and shape < 0.5:
            attributes["a"] = [{"b": _pick(rng)}, _pick(rng)]
        elif shape > 0.95:
            attributes = None
        if attributes is not None and "b" in attributes and rng.random() < 0.4:
            attributes["c"] = twin(attributes["b"], rng)
        batch.append(
            {
                "id": f"f{index}",
                "email": strings_pool[index] if index < len(strings_pool) and index % 2 else None,
                "current_lifecycle_stage": rng.choice(LIFECYCLE_STAGES),
                "attributes": attributes,
                "created_at": datetime(
                    2025, 12, 31, 23, 59, rng.choice([0, 59]), rng.choice([0, 999_999]), tzinfo=UTC
                )
                if index % 7
                else None,
            }
        )
    return batch


FIXED_EMAILS = frozenset(user["email"] for user in fixed_users())


@st.composite
def users(draw: st.DrawFn, size: int = 8) -> list[dict[str, Any]]:
    """Column values of `size` users (ids g0..); emails unique, as the table requires."""
    batch, emails = [], set()
    for index in range(size):
        email = draw(st.one_of(st.none(), pooled_strings, strings))
        if email in emails or email in FIXED_EMAILS:
            email = None
        emails.add(email)
        batch.append(
            {
                "id": f"g{index}",
                "email": email,
                "current_lifecycle_stage": draw(st.sampled_from(LIFECYCLE_STAGES)),
                "attributes": draw(attributes),
                "created_at": draw(moments),
            }
        )
    return batch


def user_rows(batch: list[dict[str, Any]]) -> list[User]:
    return [User(**columns) for columns in batch]


def _stored_values() -> dict[str, list[Any]]:
    """For each field, the distinct values the fixed users hold there: literals drawn from
    these (and parts of them) split the batch instead of matching nobody."""
    contexts = [{"user": segment_profile(user)} for user in user_rows(fixed_users())]
    found: dict[str, list[Any]] = {}
    for field in FIELDS:
        unique = {}
        for context in contexts:
            value = lookup(context, field)
            if value is not MISSING:
                unique[json.dumps(value, sort_keys=True)] = value
        found[field] = list(unique.values())
    return found


STORED = _stored_values()
literals = st.one_of(pooled, pooled, json_values)


@st.composite
def literal_for(draw: st.DrawFn, field: str, op: Op) -> Any:
    """A literal for `op` on `field`: often a value stored there, a part of one (a prefix or
    substring of a string, an item of a list), else from the pools."""
    stored = STORED[field]
    if not stored or draw(st.integers(0, 2)) == 0:
        return draw(literals)
    value = draw(st.sampled_from(stored))
    if draw(st.integers(0, 2)) == 0:
        value = twin(value, random.Random(draw(st.integers(0, 2**16))))
    if op in (Op.CONTAINS, Op.STARTS_WITH) and isinstance(value, str):
        start = 0 if op is Op.STARTS_WITH else draw(st.integers(0, len(value)))
        return value[start : draw(st.integers(start, len(value)))]
    if op is Op.CONTAINS and isinstance(value, list) and value:
        return draw(st.sampled_from(value))
    return value


@st.composite
def leaves(draw: st.DrawFn) -> dict[str, Any]:
    op = draw(st.sampled_from(list(Op)))
    field = draw(fields)
    leaf: dict[str, Any] = {"field": field, "op": op.value}
    if op in (Op.EXISTS, Op.NOT_EXISTS):
        return leaf
    if draw(st.integers(0, 2)) == 0:
        # Often the twin field (b and c hold look-alikes), else any field.
        partner = TWINS.get(field)
        leaf["value"] = {"ref": partner if partner and draw(st.booleans()) else draw(fields)}
    elif op in (Op.IN, Op.NOT_IN):
        leaf["value"] = draw(st.lists(literal_for(field, Op.EQ), max_size=4))
    else:
        leaf["value"] = draw(literal_for(field, op))
    return leaf


trees = st.recursive(
    leaves(),
    lambda children: st.one_of(
        st.builds(lambda items: {"all": items}, st.lists(children, min_size=1, max_size=3)),
        st.builds(lambda items: {"any": items}, st.lists(children, min_size=1, max_size=3)),
        st.builds(lambda child: {"not": child}, children),
    ),
    max_leaves=5,
)
conditions = st.one_of(leaves(), trees)

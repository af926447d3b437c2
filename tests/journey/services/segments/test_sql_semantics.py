"""The compiler's decisions, case by case, on both databases: what a segment condition means
for users holding tricky values (missing vs null, no coercion, bools are not numbers, code-point
order, substrings and prefixes with % and _, paths through lists, deep equality, refs).

Each case states the expected members; Python's evaluator must give the same answer.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import update
from sqlmodel import col, select

from dsl.conditions import evaluate
from journey.core.db.engine import SessionFactory
from journey.core.db.models import User
from journey.services.segments.compile import membership_clause
from journey.services.segments.profile import segment_context
from journey.services.segments.rules import parse_condition

A_ATTRIBUTES: dict[str, Any] = {
    "plan": "pro",
    "score": 1,
    "flag": True,
    "ratio": 1.0,
    "tags": ["x", "y", 1],
    "nested": {"list": [{"k": "v"}], "0": "zero"},
    "nothing": None,
    "pct": "50%",
    "under": "a_b",
    "obj": {"a": 1, "b": [1, 2]},
}
B_ATTRIBUTES: dict[str, Any] = {
    "plan": "Pro",
    "score": "1",
    "flag": 1,
    "ratio": 2.5,
    "tags": "x,y",
    "nested": [{"k": "w"}],
    "pct": "5",
    "under": "ab",
    "obj": {"b": [1, 2.0], "a": 1.0},
    "copy": {"a": 1, "b": [1, 2]},
}

# fmt: off
CASES: list[tuple[dict[str, Any], set[str]]] = [
    ({"field": "user.attributes.plan", "op": "eq", "value": "pro"}, {"a"}),
    ({"field": "user.attributes.plan", "op": "eq", "value": "Pro"}, {"b"}),
    ({"field": "user.attributes.score", "op": "eq", "value": 1}, {"a"}),  # "1" is not 1
    ({"field": "user.attributes.flag", "op": "eq", "value": 1}, {"b"}),  # true is not 1
    ({"field": "user.attributes.flag", "op": "eq", "value": True}, {"a"}),
    ({"field": "user.attributes.ratio", "op": "eq", "value": 1}, {"a"}),  # 1.0 is 1
    ({"field": "user.attributes.nothing", "op": "eq", "value": None}, {"a"}),
    ({"field": "user.attributes.nothing", "op": "exists"}, set()),  # null is unset
    ({"field": "user.attributes.nothing", "op": "not_exists"}, {"a", "b", "n"}),
    ({"field": "user.email", "op": "eq", "value": None}, {"n"}),
    ({"field": "user.email", "op": "exists"}, {"a", "b"}),
    ({"field": "user.attributes.plan", "op": "ne", "value": "pro"}, {"b", "n"}),  # missing: ne
    ({"field": "user.attributes.plan", "op": "not_in", "value": ["pro"]}, {"b", "n"}),
    ({"field": "user.attributes.plan", "op": "in", "value": ["pro", "Pro"]}, {"a", "b"}),
    ({"field": "user.attributes.plan", "op": "in", "value": []}, set()),
    ({"field": "user.attributes.plan", "op": "not_in", "value": []}, {"a", "b", "n"}),
    ({"field": "user.attributes.tags", "op": "contains", "value": "x"}, {"a", "b"}),
    ({"field": "user.attributes.tags", "op": "contains", "value": 1}, {"a"}),
    ({"field": "user.attributes.tags", "op": "contains", "value": True}, set()),
    ({"field": "user.attributes.pct", "op": "contains", "value": "%"}, {"a"}),
    ({"field": "user.attributes.pct", "op": "starts_with", "value": "5"}, {"a", "b"}),
    ({"field": "user.attributes.under", "op": "starts_with", "value": "a_"}, {"a"}),
    ({"field": "user.attributes.under", "op": "contains", "value": "_"}, {"a"}),
    ({"field": "user.attributes.score", "op": "gt", "value": 0}, {"a"}),  # no "1" > 0
    ({"field": "user.attributes.plan", "op": "gt", "value": "P"}, {"a", "b"}),
    ({"field": "user.attributes.plan", "op": "lt", "value": "a"}, {"b"}),  # code points
    ({"field": "user.attributes.flag", "op": "gte", "value": 0}, {"b"}),  # bools do not order
    ({"field": "user.attributes.nested.list.0.k", "op": "eq", "value": "v"}, {"a"}),
    ({"field": "user.attributes.nested.0.k", "op": "eq", "value": "w"}, {"b"}),  # list index
    ({"field": "user.attributes.nested.0", "op": "eq", "value": "zero"}, {"a"}),  # object key
    ({"field": "user.attributes.plan.0", "op": "exists"}, set()),  # a string is no list
    ({"field": "user.attributes.obj", "op": "eq", "value": {"b": [1, 2], "a": 1}}, {"a", "b"}),
    ({"field": "user.attributes.obj", "op": "eq", "value": {"ref": "user.attributes.copy"}},
     {"b"}),
    ({"field": "user.attributes.obj", "op": "ne", "value": {"ref": "user.attributes.copy"}},
     {"a", "n"}),
    ({"field": "user.attributes.plan", "op": "not_in", "value": {"ref": "user.attributes.pct"}},
     {"n"}),  # a ref to a non-list: false, unless the field is missing
    ({"field": "user.attributes.score", "op": "in", "value": {"ref": "user.attributes.tags"}},
     {"a"}),
    ({"field": "user.created_at", "op": "eq", "value": "2026-01-02T03:04:05Z"}, {"a"}),
    ({"field": "user.created_at", "op": "lt", "value": "2026-01-02T03:04:06Z"}, {"a"}),
    ({"field": "user.created_at", "op": "eq", "value": None}, {"n"}),
    ({"field": "user.attributes", "op": "eq", "value": {}}, {"n"}),  # NULL reads as {}
    ({"field": "user.id", "op": "starts_with", "value": ""}, {"a", "b", "n"}),
    ({"not": {"field": "user.attributes.plan", "op": "eq", "value": "pro"}}, {"b", "n"}),
    ({"any": [{"field": "user.email", "op": "eq", "value": "B@x.io"},
              {"field": "user.attributes.flag", "op": "eq", "value": True}]}, {"a", "b"}),
]
# fmt: on


@pytest.fixture
def sessions(session_factory: SessionFactory) -> SessionFactory:
    with session_factory() as session:
        session.add_all(
            [
                User(
                    id="a",
                    email="a@x.io",
                    attributes=A_ATTRIBUTES,
                    current_lifecycle_stage="Activation",
                    created_at=datetime(2026, 1, 2, 3, 4, 5, 999_999, tzinfo=UTC),
                ),
                User(id="b", email="B@x.io", attributes=B_ATTRIBUTES),
                User(id="n", email=None, attributes=None),
            ]
        )
        session.commit()
        session.execute(update(User).where(col(User.id) == "n").values(created_at=None))
        session.commit()
    return session_factory


def members(
    sessions: SessionFactory, data: dict[str, Any], stages: list[str] | None = None
) -> tuple[set[str], set[str]]:
    condition = parse_condition(data)
    with sessions() as session:
        dialect = session.get_bind().dialect.name
        clause = membership_clause(condition=condition, lifecycle_stages=stages, dialect=dialect)
        in_sql = set(session.exec(select(User.id).where(clause)).all())
        users = session.exec(select(User)).all()
        assert condition is not None
        in_python = {u.id for u in users if evaluate(condition, segment_context(u))}
    return in_sql, in_python


def test_every_case_on_both_databases(sessions: SessionFactory) -> None:
    wrong = []
    for data, expected in CASES:
        in_sql, in_python = members(sessions, data)
        if (in_sql, in_python) != (expected, expected):
            wrong.append(
                f"{data}: sql {sorted(in_sql)}, python {sorted(in_python)}, "
                f"expected {sorted(expected)}"
            )
    assert wrong == []


def test_lifecycle_stages_restrict_the_members(sessions: SessionFactory) -> None:
    everyone = {"field": "user.id", "op": "exists"}
    assert members(sessions, everyone, ["Activation"])[0] == {"a"}
    assert members(sessions, everyone, ["Acquisition", "Activation"])[0] == {"a", "b", "n"}
    with sessions() as session:
        dialect = session.get_bind().dialect.name
        no_condition = membership_clause(condition=None, lifecycle_stages=None, dialect=dialect)
        assert len(session.exec(select(User.id).where(no_condition)).all()) == 3

"""The property the segment compiler promises: on the real database, the SQL answer for every
user equals `dsl.conditions.evaluate` on that user's profile, on SQLite and on PostgreSQL.

Each example stores a fresh batch of generated users and checks several generated conditions
against all of them. Runs are derandomized so CI sees the same examples every time.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, update
from sqlmodel import Session, col, select

from dsl.conditions import evaluate
from journey.core.db.engine import SessionFactory
from journey.core.db.models import User
from journey.services.segments.compile import compile_condition
from journey.services.segments.profile import segment_context, segment_profile
from journey.services.segments.rules import condition_problems, parse_condition
from tests.journey.services.segments.strategies import conditions, fixed_users, user_rows, users


def insert(session: Session, batch: list[dict[str, Any]]) -> None:
    session.add_all(user_rows(batch))
    session.flush()
    # The model fills a None created_at with now; the column may still be NULL.
    unset = [user["id"] for user in batch if user["created_at"] is None]
    session.execute(update(User).where(col(User.id).in_(unset)).values(created_at=None))
    session.commit()


def store(sessions: SessionFactory, batch: list[dict[str, Any]]) -> None:
    """Replace the generated users (ids g..) with `batch`; the fixed ones (f..) stay."""
    with sessions() as session:
        session.execute(delete(User).where(col(User.id).startswith("g")))
        insert(session, batch)


def disagreement(session: Session, data: dict[str, Any]) -> str | None:
    """None when SQL and Python agree on every stored user; otherwise what differs."""
    condition = parse_condition(data)
    assert condition is not None
    assert condition_problems(condition) == []
    dialect = session.get_bind().dialect.name
    stored = session.exec(select(User).order_by(col(User.id))).all()
    expected = {user.id for user in stored if evaluate(condition, segment_context(user))}
    query = select(User.id).where(compile_condition(condition, dialect=dialect))
    found = set(session.exec(query).all())
    if found == expected:
        return None
    differing = [
        {"in_sql": user.id in found, "in_python": user.id in expected, **segment_profile(user)}
        for user in stored
        if (user.id in found) != (user.id in expected)
    ]
    return (
        f"{dialect}: condition {json.dumps(data, ensure_ascii=False)}\n"
        f"disagrees on {json.dumps(differing, ensure_ascii=False, indent=1)}"
    )


def test_sql_equals_python_on_generated_users_and_conditions(
    session_factory: SessionFactory,
) -> None:
    with session_factory() as session:
        insert(session, fixed_users())

    @given(batch=users(), drawn=st.lists(conditions, min_size=1, max_size=8, unique_by=json.dumps))
    @settings(
        max_examples=100,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    def agree(batch: list[dict[str, Any]], drawn: list[dict[str, Any]]) -> None:
        store(session_factory, batch)
        with session_factory() as session:
            problems = [p for p in (disagreement(session, data) for data in drawn) if p]
        assert not problems, "\n\n".join(problems)

    agree()

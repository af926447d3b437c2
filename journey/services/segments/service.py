"""Stored segments and the questions `/api/segments` answers about them, all by SQL.

Like `journey.services.triggers`, the functions take a session and keyword-only data and stay free
of FastAPI. Membership (counts, samples, pages, one user, overlaps) always comes from the compiled
condition (`journey.services.segments.sql.membership_clause`), never from Python;
`is_member`/`why_not` in `journey.services.segments.profile` only explain a single user's answer.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import delete, func
from sqlmodel import Session, col, select

from journey.core.db.models import User, UserSegment, UserSegmentMembership
from journey.services.segments.compile import membership_clause
from journey.services.segments.profile import Condition
from journey.services.segments.rules import condition_problems, dump_condition, parse_condition
from journey.services.segments.sql import Bool


@dataclass(frozen=True)
class Definition:
    """Who is in a segment: a condition (None: everyone) within stages (empty: any stage)."""

    condition: Condition | None
    lifecycle_stages: tuple[str, ...] = field(default=())


class InvalidDefinition(ValueError):
    """A stored segment whose conditions do not validate (written outside the API)."""


def definition_of(row: UserSegment) -> Definition:
    """The stored definition; InvalidDefinition when it breaks the language or segment rules."""
    try:
        condition = parse_condition(row.conditions)
    except ValidationError as exc:
        raise InvalidDefinition(f"segment {row.id}: {exc}") from exc
    problems = condition_problems(condition) if condition is not None else []
    if problems:
        raise InvalidDefinition(f"segment {row.id}: " + "; ".join(map(str, problems)))
    return Definition(condition, tuple(row.lifecycle_stages or ()))


def clause(session: Session, definition: Definition) -> Bool:
    """The definition as a boolean over `users` for the session's database."""
    return membership_clause(
        condition=definition.condition,
        lifecycle_stages=definition.lifecycle_stages,
        dialect=session.get_bind().dialect.name,
    )


# ---- stored segments --------------------------------------------------------------------------


def _apply(row: UserSegment, *, name: str, description: str | None, definition: Definition) -> None:
    row.name = name
    row.description = description
    row.conditions = dump_condition(definition.condition)
    row.lifecycle_stages = list(definition.lifecycle_stages)


def create_segment(
    session: Session, *, name: str, description: str | None, definition: Definition
) -> UserSegment:
    row = UserSegment(name=name, conditions={})
    _apply(row, name=name, description=description, definition=definition)
    session.add(row)
    session.commit()
    session.refresh(row)
    return row


def get_segment(session: Session, *, segment_id: uuid.UUID) -> UserSegment | None:
    return session.get(UserSegment, segment_id)


def list_segments(
    session: Session, *, limit: int = 50, offset: int = 0
) -> tuple[Sequence[UserSegment], int]:
    """One page of segments by name, and how many there are."""
    total = session.exec(select(func.count()).select_from(UserSegment)).one()
    rows = session.exec(
        select(UserSegment)
        .order_by(col(UserSegment.name), col(UserSegment.id))
        .limit(limit)
        .offset(offset)
    ).all()
    return rows, int(total)


def update_segment(
    session: Session,
    *,
    row: UserSegment,
    name: str,
    description: str | None,
    definition: Definition,
) -> UserSegment:
    """Replace every editable field; cached memberships are corrected by the next refresh."""
    _apply(row, name=name, description=description, definition=definition)
    session.add(row)
    session.commit()
    session.refresh(row)
    return row


def delete_segment(session: Session, *, row: UserSegment) -> None:
    """Delete the segment and its cached memberships (no exit events: the segment is gone)."""
    session.execute(
        delete(UserSegmentMembership).where(col(UserSegmentMembership.segment_id) == row.id)
    )
    session.delete(row)
    session.commit()


@dataclass(frozen=True)
class CacheState:
    """What `user_segment_memberships` says about a segment at `now`."""

    cached_members: int = 0
    cached_until: datetime | None = None  # the newest valid_until: last refresh + TTL


def cache_states(
    session: Session, *, segment_ids: Sequence[uuid.UUID], now: datetime
) -> dict[uuid.UUID, CacheState]:
    """Per segment: cached members still valid at `now`, and the latest refresh time."""
    if not segment_ids:
        return {}
    membership = UserSegmentMembership
    valid = col(membership.valid_until).is_(None) | (col(membership.valid_until) > now)
    rows = session.exec(
        select(
            col(membership.segment_id),
            func.count().filter(valid),
            func.max(col(membership.valid_until)),
        )
        .where(col(membership.segment_id).in_(list(segment_ids)))
        .group_by(col(membership.segment_id))
    ).all()
    return {segment_id: CacheState(int(count), latest) for segment_id, count, latest in rows}


# ---- membership, by SQL -----------------------------------------------------------------------


def count_members(session: Session, *, definition: Definition) -> int:
    query = select(func.count()).select_from(User).where(clause(session, definition))
    return int(session.exec(query).one())


def member_page(
    session: Session, *, definition: Definition, limit: int, offset: int = 0
) -> tuple[Sequence[User], int]:
    """Members by user id, one page of them, and how many there are."""
    rows = session.exec(
        select(User)
        .where(clause(session, definition))
        .order_by(col(User.id))
        .limit(limit)
        .offset(offset)
    ).all()
    return rows, count_members(session, definition=definition)


def is_member(session: Session, *, definition: Definition, user_id: str) -> bool:
    query = select(User.id).where(col(User.id) == user_id, clause(session, definition))
    return session.exec(query).first() is not None


@dataclass(frozen=True)
class Overlap:
    count: int
    other_count: int
    both: int

    @property
    def share(self) -> float | None:
        """Of the first segment's members, the part also in the other (None: no members)."""
        return self.both / self.count if self.count else None

    @property
    def other_share(self) -> float | None:
        return self.both / self.other_count if self.other_count else None


def overlap(session: Session, *, first: Definition, second: Definition) -> Overlap:
    """Members of each segment and of both, counted in one pass over `users`."""
    in_first, in_second = clause(session, first), clause(session, second)
    counts: Any = session.exec(
        select(
            func.count().filter(in_first),
            func.count().filter(in_second),
            func.count().filter(in_first & in_second),
        ).select_from(User)
    ).one()
    return Overlap(int(counts[0]), int(counts[1]), int(counts[2]))

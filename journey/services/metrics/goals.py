"""Goals the segment and cohort metrics measure: reaching a lifecycle stage or having an event.

`goal_times` is a SELECT of (user_id, at), one row per occurrence:

- a stage: every `user_lifecycle_history` row moving the user to it (`transitioned_at`); for
  Acquisition also the user's creation (`users.created_at`), as in the funnel;
- an event: every `lifecycle_events` row of that exact `event_type` for the user
  (`created_at`). Events of users without a profile have no user id and never count.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, model_validator
from sqlalchemy import Select, select, union_all
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col

from dsl.stages import LifecycleStage
from journey.core.db.models import LifecycleEvent, User, UserLifecycleHistory

__all__ = ["Goal", "goal_times"]


class Goal(BaseModel):
    """Exactly one of `stage` and `event`."""

    stage: LifecycleStage | None = None
    event: str | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Goal:
        if (self.stage is None) == (self.event is None):
            raise ValueError("give exactly one of a stage and an event type")
        return self


def goal_times(
    goal: Goal, *, users: Select[Any] | None = None, since: datetime | None = None
) -> Any:
    """(user_id, at) of every occurrence of the goal, optionally only for the user ids
    `users` selects and at or after `since`; a selectable to use as a subquery."""
    if goal.event is not None:
        columns = (col(LifecycleEvent.user_id), col(LifecycleEvent.created_at))
        parts = [select(*columns).where(col(LifecycleEvent.event_type) == goal.event)]
    else:
        history = (col(UserLifecycleHistory.user_id), col(UserLifecycleHistory.transitioned_at))
        parts = [select(*history).where(col(UserLifecycleHistory.to_stage) == goal.stage)]
        if goal.stage is LifecycleStage.ACQUISITION:
            parts.append(select(col(User.id), col(User.created_at)))
    filtered = []
    for part in parts:
        user, at = part.selected_columns
        conditions: list[ColumnElement[bool]] = []
        if users is not None:
            conditions.append(user.in_(users))
        if since is not None:
            conditions.append(at >= since)
        filtered.append(
            part.where(*conditions).with_only_columns(user.label("user_id"), at.label("at"))
        )
    return filtered[0] if len(filtered) == 1 else union_all(*filtered)

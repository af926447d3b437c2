"""Rows for the metrics tests, written straight into the tables the metrics read.

`Data` wraps one session; every helper adds and flushes, and the test commits once. Times are
given as "YYYY-MM-DD[ HH:MM[:SS]]" strings in UTC to keep the scenarios readable.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session

from journey.core.db.models import (
    LifecycleEvent,
    User,
    UserLifecycleHistory,
    UserSegment,
    UserSegmentMembership,
    Workflow,
    WorkflowExecution,
    WorkflowExecutionNode,
)


def at(moment: str) -> datetime:
    """'2026-03-01 10:00' (or a date, or with seconds) as an aware UTC datetime."""
    return datetime.fromisoformat(moment).replace(tzinfo=UTC)


@dataclass
class Data:
    session: Session

    def _add(self, *rows: Any) -> None:
        self.session.add_all(rows)
        self.session.flush()

    def user(self, user_id: str, created: str) -> None:
        self._add(User(id=user_id, created_at=at(created)))

    def move(self, user_id: str, stage: str, when: str, from_stage: str | None = None) -> None:
        self._add(
            UserLifecycleHistory(
                user_id=user_id, from_stage=from_stage, to_stage=stage, transitioned_at=at(when)
            )
        )

    def event(
        self,
        user_id: str | None,
        event_type: str,
        when: str,
        stage: str | None = None,
        execution: uuid.UUID | None = None,
    ) -> int:
        row = LifecycleEvent(
            user_id=user_id,
            event_type=event_type,
            lifecycle_stage=stage,
            created_at=at(when),
            workflow_execution_id=execution,
        )
        self._add(row)
        assert row.id is not None
        return row.id

    def segment(self, name: str = "segment") -> uuid.UUID:
        row = UserSegment(name=name, conditions={"all": []})
        self._add(row)
        return row.id

    def member(self, segment_id: uuid.UUID, user_id: str, evaluated: str) -> None:
        self._add(
            UserSegmentMembership(
                user_id=user_id, segment_id=segment_id, evaluated_at=at(evaluated)
            )
        )

    def journey(self, name: str = "J") -> uuid.UUID:
        row = Workflow(name=name, definition={"name": name}, status="active")
        self._add(row)
        return row.id

    def run(
        self,
        journey_id: uuid.UUID,
        user_id: str,
        status: str,
        started: str,
        completed: str | None = None,
        *,
        goal: bool | None = None,
        version: str = "1.0.0",
        nodes: tuple[tuple[str, str, int, int, int, str | None], ...] = (),
    ) -> uuid.UUID:
        """A run; `nodes` are (node_id, type, entered, completed, failed, variant)."""
        row = WorkflowExecution(
            workflow_id=journey_id,
            workflow_version=version,
            user_id=user_id,
            temporal_workflow_id=f"journey-test-{uuid.uuid4().hex}",
            status=status,
            started_at=at(started),
            completed_at=at(completed) if completed else None,
            goal_reached=goal,
        )
        self._add(row)
        self._add(
            *(
                WorkflowExecutionNode(
                    execution_id=row.id,
                    node_id=node_id,
                    node_type=node_type,
                    entered=entered,
                    completed=done,
                    failed=failed,
                    variant=variant,
                )
                for node_id, node_type, entered, done, failed, variant in nodes
            )
        )
        return row.id

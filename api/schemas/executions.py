"""Bodies of the run endpoints: starting journeys and reading their mirrored executions."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from dsl.common import UserId
from journey.contracts.runs import StepLogEntry
from journey.core.db.models import WorkflowExecution


class StartRequest(BaseModel):
    """`POST /api/workflows/{id}/start`: whom to run the journey's current version for."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "user_id": "ada",
                    "variables": {"plan": "pro"},
                    "entry_event": {"id": "evt-1", "type": "signup", "user_id": "ada"},
                }
            ]
        }
    )

    user_id: UserId
    variables: dict[str, Any] = Field(default_factory=dict)
    entry_event: dict[str, Any] | None = None


class ExecuteRequest(StartRequest):
    """`POST /api/workflows/execute`: an inline (unsaved) document, run once for a user."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "user_id": "ada",
                    "document": {
                        "name": "Say hello",
                        "start": "hello",
                        "nodes": [
                            {
                                "id": "hello",
                                "type": "email",
                                "to": "{{ user.email }}",
                                "subject": "Hello",
                                "text": "Hi there",
                                "next": "done",
                            },
                            {"id": "done", "type": "end", "outcome": "greeted"},
                        ],
                    },
                }
            ]
        }
    )

    document: dict[str, Any]


class ExecutionOut(BaseModel):
    """A row of the `workflow_executions` mirror."""

    id: uuid.UUID
    journey_id: uuid.UUID
    journey_version: str
    user_id: str
    status: str
    temporal_workflow_id: str
    temporal_run_id: str | None
    outcome: str | None
    error_message: str | None
    current_node_id: str | None
    variables: dict[str, Any] | None
    idempotency_key: str | None
    started_at: datetime | None
    completed_at: datetime | None

    @classmethod
    def of(cls, row: WorkflowExecution) -> ExecutionOut:
        return cls(
            id=row.id,
            journey_id=row.workflow_id,
            journey_version=row.workflow_version,
            user_id=row.user_id,
            status=row.status,
            temporal_workflow_id=row.temporal_workflow_id,
            temporal_run_id=row.temporal_run_id,
            outcome=row.outcome,
            error_message=row.error_message,
            current_node_id=row.current_node_id,
            variables=row.variables,
            idempotency_key=row.idempotency_key,
            started_at=row.started_at,
            completed_at=row.completed_at,
        )


class ExecutionDetail(ExecutionOut):
    """One execution with what only the run knows (its `state` query), when it answers."""

    live: bool = Field(description="whether the fields below came from the run's state query")
    current_nodes: list[str] = Field(default_factory=list)
    waiting_for: str | None = None
    step_log: list[StepLogEntry] = Field(default_factory=list)
    temporal_ui_url: str


class ExecutionPage(BaseModel):
    items: list[ExecutionOut]
    total: int
    limit: int
    offset: int


class JourneyRunStatus(BaseModel):
    """`GET /api/workflows/{id}/status`: where the journey's open runs are right now."""

    journey_id: uuid.UUID
    status: str
    version: str
    running: int = Field(description="open executions in the mirror table")
    sampled: int = Field(description="how many of them were asked for their state")
    by_node: dict[str, int] = Field(
        description="open runs per current node; 'unknown' for runs that did not answer"
    )


class CancelAllResult(BaseModel):
    journey_id: uuid.UUID
    status: str
    cancelled: int

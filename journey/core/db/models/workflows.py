"""Journeys (workflows), their runs on Temporal, and the event triggers that start them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Index,
    Integer,
    String,
    Text,
    Uuid,
    false,
    text,
    true,
)
from sqlmodel import Field, SQLModel

from journey.core.db.models._base import (
    descending,
    in_list,
    json_object,
    stage_list,
    timestamp,
    uuid_pk,
)
from journey.core.db.types import JSONType, UTCDateTime

WORKFLOW_STATUSES = ("draft", "active", "inactive", "archived")
EXECUTION_STATUSES = ("pending", "running", "completed", "failed", "cancelled")


class Workflow(SQLModel, table=True):
    """One version of a journey: the DSL document Journey runs, plus any BPMN it came from."""

    __tablename__ = "workflows"
    __table_args__ = (
        CheckConstraint(in_list("status", WORKFLOW_STATUSES), name="valid_workflow_status"),
        Index("idx_workflows_status", "status"),
        Index("idx_workflows_lifecycle", "lifecycle_stages", postgresql_using="gin"),
    )

    id: uuid.UUID = uuid_pk()
    name: str = Field(sa_type=String(255))
    description: str | None = Field(default=None, sa_type=Text)
    definition: dict[str, Any] = Field(sa_type=JSONType)
    bpmn_source: str | None = Field(default=None, sa_type=Text)
    version: str = Field(
        default="1.0.0", sa_type=String(50), sa_column_kwargs={"server_default": "1.0.0"}
    )
    lifecycle_stages: list[str] | None = stage_list()
    status: str = Field(
        default="draft", sa_type=String(50), sa_column_kwargs={"server_default": "draft"}
    )
    created_by: uuid.UUID | None = Field(default=None, sa_type=Uuid)
    created_at: datetime | None = timestamp()
    updated_at: datetime | None = timestamp(on_update=True)


class WorkflowExecution(SQLModel, table=True):
    """One run of a journey for one user, mirrored from its Temporal workflow."""

    __tablename__ = "workflow_executions"
    __table_args__ = (
        CheckConstraint(in_list("status", EXECUTION_STATUSES), name="valid_execution_status"),
        Index("idx_executions_workflow", "workflow_id", descending("started_at")),
        Index("idx_executions_user", "user_id", descending("started_at")),
        Index("idx_executions_status", "status", descending("started_at")),
        Index("uq_executions_idempotency", "workflow_id", "idempotency_key", unique=True),
    )

    id: uuid.UUID = uuid_pk()
    workflow_id: uuid.UUID = Field(foreign_key="workflows.id", sa_type=Uuid)
    workflow_version: str = Field(sa_type=String(50))
    user_id: str = Field(foreign_key="users.id", ondelete="CASCADE", sa_type=String(255))
    temporal_workflow_id: str = Field(unique=True, sa_type=String(255))
    temporal_run_id: str | None = Field(default=None, sa_type=String(64))
    status: str = Field(
        default="pending", sa_type=String(50), sa_column_kwargs={"server_default": "pending"}
    )
    variables: dict[str, Any] | None = json_object()
    current_node_id: str | None = Field(default=None, sa_type=String(255))
    outcome: str | None = Field(default=None, sa_type=String(100))
    started_at: datetime | None = timestamp()
    completed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    error_message: str | None = Field(default=None, sa_type=Text)
    updated_at: datetime | None = timestamp(on_update=True)
    # `Idempotency-Key` of the start request: a repeat returns this execution.
    idempotency_key: str | None = Field(default=None, sa_type=String(255))
    # Migration 0006: what the keyed request was (journey/services/runs/executions.py
    # `request_fingerprint`); the key with another request is refused. NULL: a trigger's start, or
    # an older row.
    request_fingerprint: str | None = Field(default=None, sa_type=String(64))
    # Migration 0005: whether the journey's `goal` held when the run ended (NULL: no goal, or
    # a run recorded before the column).
    goal_reached: bool | None = Field(default=None, sa_type=Boolean)


class WorkflowExecutionNode(SQLModel, table=True):
    """What one finished run did at one node (migration 0005): how often the node was entered,
    completed and failed, and for a `split` the variant the user got. Written with the run's
    end (journey/services/runs/executions.py `record_outcome`); read by the performance metrics."""

    __tablename__ = "workflow_execution_nodes"

    execution_id: uuid.UUID = Field(
        primary_key=True, foreign_key="workflow_executions.id", ondelete="CASCADE", sa_type=Uuid
    )
    node_id: str = Field(primary_key=True, sa_type=String(255))
    node_type: str = Field(sa_type=String(50))
    entered: int = Field(default=0, sa_type=Integer)
    completed: int = Field(default=0, sa_type=Integer)
    failed: int = Field(default=0, sa_type=Integer)
    variant: str | None = Field(default=None, sa_type=String(255))


class Trigger(SQLModel, table=True):
    """A rule that starts a workflow when an event of `event_type` meets `conditions`."""

    __tablename__ = "triggers"
    __table_args__ = (
        Index(
            "idx_triggers_event_type",
            "event_type",
            postgresql_where=text("enabled = true"),
            sqlite_where=text("enabled = true"),
        ),
        Index(
            "idx_triggers_workflow",
            "workflow_id",
            postgresql_where=text("enabled = true"),
            sqlite_where=text("enabled = true"),
        ),
    )

    id: uuid.UUID = uuid_pk()
    name: str = Field(sa_type=String(255))
    event_type: str = Field(sa_type=String(255))
    conditions: dict[str, Any] = Field(sa_type=JSONType)
    workflow_id: uuid.UUID | None = Field(default=None, foreign_key="workflows.id", sa_type=Uuid)
    enabled: bool | None = Field(
        default=True, sa_type=Boolean, sa_column_kwargs={"server_default": true()}
    )
    created_at: datetime | None = timestamp()
    updated_at: datetime | None = timestamp(on_update=True)
    # Added by migration 0004: the rule's keys and re-entry policy (see dsl/triggers.py).
    description: str | None = Field(default=None, sa_type=Text)
    dedupe_key: str = Field(
        default="event.id", sa_type=String(255), sa_column_kwargs={"server_default": "event.id"}
    )
    reentry: str = Field(
        default="always", sa_type=String(20), sa_column_kwargs={"server_default": "always"}
    )
    reentry_period: str | None = Field(default=None, sa_type=String(50))  # ISO 8601
    user_id_path: str = Field(
        default="event.user_id",
        sa_type=String(255),
        sa_column_kwargs={"server_default": "event.user_id"},
    )
    create_profile: bool = Field(
        default=False, sa_type=Boolean, sa_column_kwargs={"server_default": false()}
    )


class TriggerExecution(SQLModel, table=True):
    """The log of one trigger evaluation: whether it matched and which run it started."""

    __tablename__ = "trigger_executions"
    __table_args__ = (
        Index("idx_trigger_executions_trigger", "trigger_id", descending("executed_at")),
        Index("idx_trigger_executions_user", "user_id", descending("executed_at")),
        # A redelivered event finds the decision made the first time.
        Index("uq_trigger_executions_event", "trigger_id", "event_id", unique=True),
        Index("idx_trigger_executions_dedupe", "trigger_id", "dedupe_key"),
        # Migration 0005: the retention purge of workflow_executions clears these references.
        Index(
            "idx_trigger_executions_execution",
            "workflow_execution_id",
            postgresql_where=text("workflow_execution_id IS NOT NULL"),
            sqlite_where=text("workflow_execution_id IS NOT NULL"),
        ),
    )

    id: uuid.UUID = uuid_pk()
    trigger_id: uuid.UUID = Field(foreign_key="triggers.id", sa_type=Uuid)
    user_id: str | None = Field(default=None, foreign_key="users.id", sa_type=String(255))
    event_data: dict[str, Any] | None = Field(default=None, sa_type=JSONType)
    condition_met: bool = Field(sa_type=Boolean)
    workflow_execution_id: uuid.UUID | None = Field(
        default=None, foreign_key="workflow_executions.id", sa_type=Uuid
    )
    executed_at: datetime | None = timestamp()
    # Added by migration 0004: what the consumer decided for the event and why.
    event_id: str | None = Field(default=None, sa_type=String(255))
    event_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    dedupe_key: str | None = Field(default=None, sa_type=String(255))
    decision: str | None = Field(default=None, sa_type=String(20))
    reason: str | None = Field(default=None, sa_type=Text)
    temporal_workflow_id: str | None = Field(default=None, sa_type=String(255))

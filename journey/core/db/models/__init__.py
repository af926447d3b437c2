"""The relational schema of Journey: one SQLModel table class per table of the seed schema.

Every table is created by the Alembic migrations in `journey/core/db/migrations`, identically on
SQLite and PostgreSQL 15 (tests/journey/core/db/test_schema.py). Why the schema deviates from the
seed, what each migration added, and how `lifecycle_events` is partitioned on PostgreSQL are in
docs/schema.md.
"""

from __future__ import annotations

from journey.core.db.models._base import NAMING_CONVENTION
from journey.core.db.models.deliveries import DELIVERY_KINDS, DELIVERY_OUTCOMES, Delivery
from journey.core.db.models.events import DailyMetric, IngestedEvent, LifecycleEvent
from journey.core.db.models.gateway import AuditEntry, WorkflowVersion
from journey.core.db.models.users import (
    User,
    UserLifecycleHistory,
    UserSegment,
    UserSegmentMembership,
)
from journey.core.db.models.workflows import (
    EXECUTION_STATUSES,
    WORKFLOW_STATUSES,
    Trigger,
    TriggerExecution,
    Workflow,
    WorkflowExecution,
    WorkflowExecutionNode,
)

__all__ = [
    "DELIVERY_KINDS",
    "DELIVERY_OUTCOMES",
    "EXECUTION_STATUSES",
    "NAMING_CONVENTION",
    "WORKFLOW_STATUSES",
    "AuditEntry",
    "DailyMetric",
    "Delivery",
    "IngestedEvent",
    "LifecycleEvent",
    "Trigger",
    "TriggerExecution",
    "User",
    "UserLifecycleHistory",
    "UserSegment",
    "UserSegmentMembership",
    "Workflow",
    "WorkflowExecution",
    "WorkflowExecutionNode",
    "WorkflowVersion",
]

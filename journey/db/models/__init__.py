"""The relational schema of Journey: one SQLModel table class per table of the seed schema.

The seed (shared/seeds/002) describes ten PostgreSQL tables. They are kept with their CHECK
constraints (same names), UNIQUE constraints, foreign keys (ON DELETE CASCADE where the seed has
it) and indexes (same names, DESC where given, GIN on PostgreSQL, partial where given). Every
table is created by the Alembic migrations in `journey/db/migrations`, which produce exactly
these declarations on both SQLite and PostgreSQL 15 (tests/journey/db/test_schema.py checks it).

Deliberate deviations from the seed:

- `users.id` is VARCHAR(255), the customer's own user id: journeys and Kafka events address
  users as e.g. "u1". Every `user_id` column is VARCHAR(255) accordingly.
- `users.email` is UNIQUE but NULLable: profiles are created from events that carry no email.
  `users.current_lifecycle_stage` defaults to 'Acquisition'.
- `workflows.definition` (JSON/JSONB, NOT NULL) holds the journey DSL document instead of the
  seed's `bpmn_xml`; `workflows.bpmn_source` (TEXT, NULL) keeps imported BPMN for reference.
- `workflow_executions` gains `workflow_version`, `temporal_workflow_id` (UNIQUE),
  `temporal_run_id`, `outcome` and `updated_at`, and its `user_id` foreign key cascades on
  delete: erasing a user removes their executions.
- UUID keys are generated in Python (uuid4) and stored with SQLAlchemy's portable `Uuid`
  (native uuid on PostgreSQL, CHAR(32) on SQLite) instead of `gen_random_uuid()`.
- BIGSERIAL keys are BIGINT on PostgreSQL but INTEGER on SQLite, where only an INTEGER primary
  key aliases the rowid and is generated on insert.
- JSONB and VARCHAR(50)[] become JSON on SQLite; the stage-list default is '[]' there ('{}' on
  PostgreSQL). Python None in a nullable JSON column is SQL NULL, not the JSON literal null.
- Timestamps default to NOW() in the database and to UTC now in Python, and always read back
  as aware UTC datetimes (SQLite has no time zones); `updated_at` is refreshed on ORM updates.
- Unnamed constraints are named by `NAMING_CONVENTION` (e.g. `pk_users`, `uq_users_email`,
  `fk_workflow_executions_user_id_users`) so they are the same on both databases; the
  `metrics_daily` UNIQUE key is `uq_metrics_daily_key`.
- The GIN and partial indexes exist on SQLite too, as ordinary (partial) B-tree indexes, so both
  databases carry the same set of index names.

Added after the seed: `deliveries`, the effect ledger of journey actions (migration 0002);
`workflow_versions`, `audit_log` and `workflow_executions.idempotency_key` for the REST
gateway (migration 0003).

Migration 0005 (metrics, retention, partitioning) adds `ingested_events` (the event-id dedupe),
`workflow_execution_nodes` (per-node counts and split variants of finished runs),
`workflow_executions.goal_reached`, and indexes on the `workflow_execution_id` references that
the retention purge clears. It makes `lifecycle_events.created_at` NOT NULL and replaces the
unique `uq_lifecycle_events_event_id` with the plain `idx_lifecycle_events_event_id`, on both
databases. On PostgreSQL only, `lifecycle_events` is partitioned by month on `created_at`:

- its primary key `pk_lifecycle_events` is (id, created_at) on PostgreSQL (a partitioned
  table's keys must contain the partition key), (id) on SQLite and in the models;
- the partitions `lifecycle_events_YYYY_MM` and `lifecycle_events_default` are tables of
  their own on PostgreSQL, created ahead of time by the maintenance job
  (journey/metrics/partitions.py); they are not models, and schema comparisons skip them
  (`partitions.is_partition`).

The retention policy (lifecycle_events 2 years, trigger_executions 90 days, workflow_executions
1 year, metrics_daily 3 years) is a scheduled purge (journey/metrics/retention.py). The seed's
partitioning of trigger_executions and metrics_daily, and its backups, are not implemented.
"""

from __future__ import annotations

from journey.db.models._base import NAMING_CONVENTION
from journey.db.models.deliveries import DELIVERY_KINDS, DELIVERY_OUTCOMES, Delivery
from journey.db.models.events import DailyMetric, IngestedEvent, LifecycleEvent
from journey.db.models.gateway import AuditEntry, WorkflowVersion
from journey.db.models.users import User, UserLifecycleHistory, UserSegment, UserSegmentMembership
from journey.db.models.workflows import (
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

"""Typed inputs and results of activities. Pure pydantic, so workflows can import them.

The journey interpreter workflow calls the action activities by *name* (the constants below)
with exactly one of these input models, so this module is the whole contract between the
workflow and the worker: it must stay free of I/O imports (database, HTTP, SMTP, Kafka) because
the Temporal workflow sandbox re-imports it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field

# ---- activity names (the workflow calls activities by these names) ----------------------------

LOAD_USER = "journey.load_user"
SEND_EMAIL = "journey.send_email"
CALL_WEBHOOK = "journey.call_webhook"
UPDATE_ATTRIBUTES = "journey.update_attributes"
LIFECYCLE_TRANSITION = "journey.lifecycle_transition"
EMIT_EVENT = "journey.emit_event"

ACTION_ACTIVITY_NAMES: tuple[str, ...] = (
    LOAD_USER,
    SEND_EMAIL,
    CALL_WEBHOOK,
    UPDATE_ATTRIBUTES,
    LIFECYCLE_TRANSITION,
    EMIT_EVENT,
)

# ApplicationError types raised by the action activities; the workflow may branch on them.
TEMPLATE_ERROR = "TemplateError"
EMAIL_REJECTED = "EmailRejected"
WEBHOOK_REJECTED = "WebhookRejected"
WEBHOOK_TRANSIENT = "WebhookTransient"
WEBHOOK_REDIRECT = "WebhookRedirect"
WEBHOOK_RESPONSE_TOO_LARGE = "WebhookResponseTooLarge"
ATTRIBUTE_TYPE_ERROR = "AttributeTypeError"
INVALID_OPERATION = "InvalidOperation"
UNKNOWN_USER = "UnknownUser"
INVALID_STAGE = "InvalidStage"


class StackCheckInput(BaseModel):
    """Asks the worker to prove it can reach the database on behalf of a workflow."""

    check_id: str
    requested_by: str = "journey dev --smoke"


class StackCheckResult(BaseModel):
    check_id: str
    audit_row_id: int
    attempt: int


# ---- shared pieces ----------------------------------------------------------------------------


class TemplateContext(BaseModel):
    """What templates may read. Plain data only, so it serialises into workflow history."""

    user: dict[str, Any] = Field(default_factory=dict)
    event: dict[str, Any] | None = None
    vars: dict[str, Any] = Field(default_factory=dict)
    journey: dict[str, Any] = Field(default_factory=dict)


class ActionMeta(BaseModel):
    """Who is acting: the source of idempotency keys (effect_key) and of audit metadata."""

    effect_key: str
    journey_id: str
    journey_version: str
    workflow_id: str
    run_id: str
    node_id: str
    user_id: str

    def origin(self) -> dict[str, str]:
        """Where an effect came from, as the effect ledger records it."""
        return {
            "workflow_id": self.workflow_id,
            "run_id": self.run_id,
            "node_id": self.node_id,
            "user_id": self.user_id,
        }


class UserSnapshot(BaseModel):
    id: str
    email: str | None = None
    current_lifecycle_stage: str
    attributes: dict[str, Any] = Field(default_factory=dict)


# ---- load_user --------------------------------------------------------------------------------


class LoadUserInput(BaseModel):
    user_id: str
    create_if_missing: bool = False


# ---- send_email -------------------------------------------------------------------------------


class SendEmailInput(BaseModel):
    meta: ActionMeta
    to: str
    from_address: str | None = None
    subject: str
    text: str | None = None
    html: str | None = None
    reply_to: str | None = None
    context: TemplateContext


class SendEmailResult(BaseModel):
    outcome: Literal["sent", "suppressed"]
    message_id: str
    recipients: list[str] = Field(default_factory=list)
    # Why a message was suppressed (e.g. "empty recipient"); None when sent.
    reason: str | None = None


# ---- call_webhook -----------------------------------------------------------------------------


class CallWebhookInput(BaseModel):
    """Secrets travel by name only (`secret_headers`, `signing_secret`): this input is stored
    in workflow history, so the activity resolves the values from the worker's settings."""

    meta: ActionMeta
    method: str = "POST"
    url: str
    # Header name -> template of its value.
    headers: dict[str, str] = Field(default_factory=dict)
    # Header name -> name of a configured secret whose value is sent (never rendered).
    secret_headers: dict[str, str] = Field(default_factory=dict)
    # Name of the configured secret that signs the request (Standard Webhooks), if any.
    signing_secret: str | None = None
    body: Any = None
    request_timeout_seconds: float = Field(default=10.0, gt=0)
    accept_status: list[int] | None = None
    context: TemplateContext


class CallWebhookResult(BaseModel):
    status: int
    body: Any = None


# ---- update_attributes ------------------------------------------------------------------------


class UpdateAttributesInput(BaseModel):
    meta: ActionMeta
    # {"op": "set"|"unset"|"increment"|"append", "path": "a.b", "value"/"by": ...}
    operations: list[dict[str, Any]]
    context: TemplateContext


class UpdateAttributesResult(BaseModel):
    attributes: dict[str, Any]


# ---- lifecycle_transition ---------------------------------------------------------------------


class LifecycleTransitionInput(BaseModel):
    meta: ActionMeta
    stage: str
    reason: str | None = None


class LifecycleTransitionResult(BaseModel):
    from_stage: str | None
    to_stage: str
    changed: bool


# ---- emit_event -------------------------------------------------------------------------------


class EmitEventInput(BaseModel):
    meta: ActionMeta
    event_type: str
    payload: Any = None
    context: TemplateContext


class EmitEventResult(BaseModel):
    event_id: str
    topic: str
    partition: int
    offset: int


# ---- record_execution_outcome -----------------------------------------------------------------

RECORD_EXECUTION_OUTCOME = "journey.record_execution_outcome"


class NodeOutcome(BaseModel):
    """What a run did at one node, summed over its visits (from the run's step log)."""

    node_id: str
    type: str
    entered: int = 0
    completed: int = 0  # step outcome "ok"
    failed: int = 0  # step outcome "error" (went to on_error) or "failed" (failed the run)
    variant: str | None = None  # `split` nodes: the variant the user got


class StepLike(Protocol):
    @property
    def node_id(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def outcome(self) -> str | None: ...


def summarize_steps(steps: Iterable[StepLike], variants: Any) -> list[NodeOutcome]:
    """Per-node counts of a step log, in order of first entry; pure, so the workflow calls it.

    `variants` is the run's `vars.variants` (split node id -> variant name, set by `split`).
    Entries still open (a cancelled run) count as entered only."""
    chosen = variants if isinstance(variants, dict) else {}
    nodes: dict[str, NodeOutcome] = {}
    for step in steps:
        node = nodes.setdefault(step.node_id, NodeOutcome(node_id=step.node_id, type=step.type))
        node.entered += 1
        if step.outcome == "ok":
            node.completed += 1
        elif step.outcome in ("error", "failed"):
            node.failed += 1
    for node in nodes.values():
        name = chosen.get(node.node_id)
        if node.type == "split" and isinstance(name, str):
            node.variant = name
    return list(nodes.values())


class ExecutionOutcomeInput(BaseModel):
    """How a run ended, for the `workflow_executions` mirror. Sent by the run itself, so runs
    started outside the API (triggers, the Temporal client) are mirrored too.

    `nodes` and `goal_reached` were added later with defaults: a payload without them (an
    activity scheduled by an older worker) still decodes and leaves them unrecorded."""

    workflow_id: str
    run_id: str
    journey_id: str
    journey_version: str
    user_id: str
    status: Literal["completed", "failed", "cancelled"]
    outcome: str | None = None
    error_message: str | None = None
    variables: dict[str, Any] = Field(default_factory=dict)
    finished_at: datetime
    nodes: list[NodeOutcome] = Field(default_factory=list)
    # Whether the journey's `goal` held at the end; None when it has none.
    goal_reached: bool | None = None


# ---- metrics rollup and maintenance (workflows/maintenance.py, activities/metrics.py) ---------

ROLLUP_METRICS_DAY = "journey.rollup_metrics_day"
ENSURE_PARTITIONS = "journey.ensure_partitions"
PURGE_EXPIRED = "journey.purge_expired"

# The tables the retention purge trims, in the order it trims them (references first).
PurgeTable = Literal[
    "trigger_executions", "workflow_executions", "lifecycle_events", "ingested_events",
    "metrics_daily",
]  # fmt: skip


class RollupDayInput(BaseModel):
    day: date


class RollupDayResult(BaseModel):
    day: date
    rows: int


class EnsurePartitionsInput(BaseModel):
    now: datetime
    months_ahead: int = Field(ge=0)


class PurgeInput(BaseModel):
    """Delete `table`'s rows older than `cutoff`, `batch_size` rows per transaction, at most
    `max_batches` batches per call (the workflow calls again until `done`)."""

    table: PurgeTable
    cutoff: datetime
    batch_size: int = Field(gt=0)
    max_batches: int = Field(default=100, gt=0)


class PurgeResult(BaseModel):
    table: PurgeTable
    deleted: int
    done: bool
    dropped_partitions: list[str] = Field(default_factory=list)


# ---- segment refresh (workflows/segments.py, activities/segments.py) --------------------------

SEGMENT_REFRESH_WORKFLOW = "journey.SegmentRefresh"
LIST_SEGMENTS = "journey.list_segments"
SEGMENT_CHANGES = "journey.segment_changes"
APPLY_SEGMENT_CHANGES = "journey.apply_segment_changes"
PUBLISH_SEGMENT_EVENTS = "journey.publish_segment_events"
RENEW_SEGMENT = "journey.renew_segment_memberships"


class SegmentRef(BaseModel):
    id: str
    name: str


class SegmentRefreshInput(BaseModel):
    """Refresh the cached memberships of every segment (or of `segment_ids`).

    `run_key`, `evaluated_at`, `pending` and the counts are carried over continue-as-new;
    a new refresh leaves them unset."""

    segment_ids: list[str] | None = None
    run_key: str | None = None
    evaluated_at: datetime | None = None
    pending: list[SegmentRef] | None = None
    refreshed: int = 0
    entered: int = 0
    exited: int = 0


class SegmentRefreshResult(BaseModel):
    refreshed: int
    entered: int
    exited: int


class ListSegmentsInput(BaseModel):
    segment_ids: list[str] | None = None


class SegmentChangesInput(BaseModel):
    segment_id: str


class SegmentChanges(BaseModel):
    """Up to the batch size of each; `found` is False when the segment was deleted (or its
    stored conditions are invalid: it is skipped)."""

    found: bool = True
    entered: list[str] = Field(default_factory=list)
    exited: list[str] = Field(default_factory=list)
    complete: bool = True


class ApplySegmentChangesInput(BaseModel):
    segment_id: str
    entered: list[str]
    exited: list[str]
    evaluated_at: datetime


class PublishSegmentEventsInput(BaseModel):
    segment: SegmentRef
    # Part of every event id: the refresh run's key and the step, the same on every retry.
    event_key: str
    entered: list[str]
    exited: list[str]
    timestamp: datetime


class RenewSegmentInput(BaseModel):
    segment_id: str
    evaluated_at: datetime

"""The action activities' contract: their names, error types, and one typed input and
result each. The journey interpreter calls them by name with exactly these models, so this
module is the whole contract between the workflow and the worker: pure pydantic, no I/O,
because the Temporal workflow sandbox re-imports it."""

from __future__ import annotations

from typing import Any, Literal

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

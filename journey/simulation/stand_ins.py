"""Recording stand-ins for every activity a journey run calls: same names, no side effects.

The names come from the action contract the worker's registry enforces
(`journey.contracts.actions.ACTION_ACTIVITY_NAMES`) plus the two a run calls besides actions; a
contract name without a stand-in here stops the simulation before it starts
(`MissingStandIn`), and an activity nobody stands in for fails its node at once, non-retryably
and by name (`unknown_activity`), instead of waiting on a worker that does not exist.

What would be sent is rendered by the real code: the email activity builds its message (its
own suppression rules, default sender, headers and the `activities.rendering` templates) and
hands it to a `_send` that keeps it instead (journey/simulation/offline.py); the webhook
activity renders its request with `_prepare`. Both are built on a ledger whose sessions are
bound to no database and an HTTP client whose transport refuses every request, so neither could
reach anything even by mistake.
Profile reads are answered from the scenario's user, and the simulated updates and stage
changes change that profile in memory, so later conditions and templates see them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NoReturn

import httpx
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session
from temporalio import activity
from temporalio.common import RawValue
from temporalio.exceptions import ApplicationError

from activities.attribute_ops import apply_operations
from activities.events import event_id_for
from activities.profiles import rendered_operations
from activities.registry import activity_name
from activities.rendering import (
    RenderLimits,
    in_render_thread,
    render_text_async,
    render_value_async,
)
from activities.webhook import WebhookActivities
from dsl.stages import LIFECYCLE_STAGES
from journey.contracts.actions import (
    ACTION_ACTIVITY_NAMES,
    CALL_WEBHOOK,
    EMIT_EVENT,
    INVALID_STAGE,
    LIFECYCLE_TRANSITION,
    LOAD_USER,
    SEND_EMAIL,
    UPDATE_ATTRIBUTES,
    WEBHOOK_REJECTED,
    CallWebhookInput,
    CallWebhookResult,
    EmitEventInput,
    EmitEventResult,
    LifecycleTransitionInput,
    LifecycleTransitionResult,
    LoadUserInput,
    SendEmailInput,
    SendEmailResult,
    UpdateAttributesInput,
    UpdateAttributesResult,
    UserSnapshot,
)
from journey.contracts.executions import RECORD_EXECUTION_OUTCOME, ExecutionOutcomeInput
from journey.contracts.runs import LOAD_JOURNEY, JourneySnapshot, LoadJourneyInput
from journey.core.config import Settings
from journey.core.ledger import Ledger
from journey.services.lifecycle import STAGE_CHANGED_EVENT
from journey.simulation.models import EffectRecord, SimulatedUser, WebhookAnswer
from journey.simulation.offline import KeepingEmail, Kept, Offline, email_details

__all__ = ["JOURNEY_RUN_ACTIVITIES", "MissingStandIn", "Recorder", "check_stand_ins"]

# Every activity a journey run may call: the actions, its end-of-run mirror, sub-journeys.
JOURNEY_RUN_ACTIVITIES: tuple[str, ...] = (
    *ACTION_ACTIVITY_NAMES,
    RECORD_EXECUTION_OUTCOME,
    LOAD_JOURNEY,
)
UNKNOWN_ACTIVITY = "NoSimulationStandIn"


class MissingStandIn(RuntimeError):
    """An activity a journey run may call has no recording stand-in."""


def check_stand_ins(names: Sequence[str], required: Sequence[str] = JOURNEY_RUN_ACTIVITIES) -> None:
    missing = sorted(set(required) - set(names))
    if missing:
        raise MissingStandIn(
            f"no simulation stand-in for activities {missing}: add one to "
            "journey/simulation/stand_ins.py before simulating"
        )
    duplicated = sorted({name for name in names if list(names).count(name) > 1})
    if duplicated:
        raise MissingStandIn(f"simulation stand-ins registered twice: {duplicated}")


def _effect_key_visit(key: str) -> int:
    try:
        return int(key.rsplit(":", 1)[1])
    except (IndexError, ValueError):
        return 1


class Recorder:
    """The stand-ins of one simulation and everything they recorded.

    `effects` maps (workflow id, node id, visit) to what the action at that visit would have
    done; `outcomes` keeps each run's end-of-run report (status, outcome, goal).
    """

    def __init__(
        self,
        settings: Settings,
        user: SimulatedUser,
        *,
        journeys: Mapping[str, JourneySnapshot] | None = None,
        webhook_answers: Mapping[str, WebhookAnswer] | None = None,
    ) -> None:
        self._settings = settings
        self._limits = RenderLimits.from_settings(settings)
        self.user = UserSnapshot(
            id=user.id,
            email=user.email,
            current_lifecycle_stage=user.current_lifecycle_stage.value,
            attributes=dict(user.attributes),
        )
        self.journeys = dict(journeys or {})
        self._answers = dict(webhook_answers or {})
        # Bound to no database and to no network: any use is an error, never a side effect.
        nowhere = Ledger(sessionmaker(class_=Session))
        self._http = httpx.AsyncClient(transport=Offline())
        self._email = KeepingEmail(settings, nowhere)
        self._webhook = WebhookActivities(self._http, settings, nowhere)
        self.effects: dict[tuple[str, str, int], EffectRecord] = {}
        self.outcomes: dict[str, ExecutionOutcomeInput] = {}

    async def aclose(self) -> None:
        await self._http.aclose()

    def activities(self) -> list[Callable[..., Any]]:
        stand_ins: list[Callable[..., Any]] = [
            self.load_user,
            self.send_email,
            self.call_webhook,
            self.update_attributes,
            self.lifecycle_transition,
            self.emit_event,
            self.record_execution_outcome,
            self.load_journey,
        ]
        check_stand_ins([activity_name(fn) for fn in stand_ins])
        return stand_ins

    def _keep(self, meta: Any, effect: EffectRecord) -> None:
        visit = _effect_key_visit(meta.effect_key)
        self.effects[(meta.workflow_id, meta.node_id, visit)] = effect

    def _failed(self, meta: Any, action: Any, err: ApplicationError, **details: Any) -> NoReturn:
        self._keep(
            meta,
            EffectRecord(action=action, outcome="failed", details={**details, "error": str(err)}),
        )
        raise err

    # ---- profile ---------------------------------------------------------------------------

    @activity.defn(name=LOAD_USER)
    async def load_user(self, request: LoadUserInput) -> UserSnapshot | None:
        return self.user.model_copy(deep=True) if request.user_id == self.user.id else None

    @activity.defn(name=UPDATE_ATTRIBUTES)
    async def update_attributes(self, request: UpdateAttributesInput) -> UpdateAttributesResult:
        meta = request.meta
        try:
            operations = await in_render_thread(
                rendered_operations, request.operations, request.context, self._limits
            )
            updated = apply_operations(self.user.attributes, operations)
        except ApplicationError as err:
            self._failed(meta, "update_attributes", err, operations=request.operations)
        before = self.user.attributes
        self.user = self.user.model_copy(update={"attributes": updated})
        self._keep(
            meta,
            EffectRecord(
                action="update_attributes",
                outcome="applied" if updated != before else "unchanged",
                details={"operations": operations, "before": before, "after": updated},
            ),
        )
        return UpdateAttributesResult(attributes=updated)

    @activity.defn(name=LIFECYCLE_TRANSITION)
    async def lifecycle_transition(
        self, request: LifecycleTransitionInput
    ) -> LifecycleTransitionResult:
        meta = request.meta
        if request.stage not in LIFECYCLE_STAGES:
            err = ApplicationError(
                f"unknown lifecycle stage {request.stage!r}; expected one of {LIFECYCLE_STAGES}",
                type=INVALID_STAGE,
                non_retryable=True,
            )
            self._failed(meta, "lifecycle_transition", err, to_stage=request.stage)
        before = self.user.current_lifecycle_stage
        changed = before != request.stage
        self.user = self.user.model_copy(update={"current_lifecycle_stage": request.stage})
        details: dict[str, Any] = {
            "from_stage": before,
            "to_stage": request.stage,
            "reason": request.reason,
        }
        if changed:
            details["would_publish"] = {
                "topic": self._settings.kafka_events_topic,
                "type": STAGE_CHANGED_EVENT,
            }
        self._keep(
            meta,
            EffectRecord(
                action="lifecycle_transition",
                outcome="applied" if changed else "unchanged",
                details=details,
            ),
        )
        return LifecycleTransitionResult(from_stage=before, to_stage=request.stage, changed=changed)

    # ---- messages out ----------------------------------------------------------------------

    @activity.defn(name=SEND_EMAIL)
    async def send_email(self, request: SendEmailInput) -> SendEmailResult:
        meta = request.meta
        try:
            result = await self._email._deliver(request)
        except Kept as kept:
            details = email_details(kept.message)
            self._keep(meta, EffectRecord(action="email", outcome="sent", details=details))
            recipient = str(kept.message["To"])
            return SendEmailResult(
                outcome="sent", message_id=details.get("message_id", ""), recipients=[recipient]
            )
        except ApplicationError as err:
            self._failed(meta, "email", err)
        # Not handed to SMTP: suppressed (opted out, no valid address), as the real one would.
        self._keep(
            meta,
            EffectRecord(action="email", outcome=result.outcome, details={"reason": result.reason}),
        )
        return result

    @activity.defn(name=CALL_WEBHOOK)
    async def call_webhook(self, request: CallWebhookInput) -> CallWebhookResult:
        meta = request.meta
        # Secrets are never resolved here: the answer shows which one would be sent.
        plain = request.model_copy(update={"secret_headers": {}, "signing_secret": None})
        try:
            prepared = await self._webhook._prepare(plain)
        except ApplicationError as err:
            self._failed(meta, "webhook", err, method=request.method, url=request.url)
        headers = dict(prepared.headers)
        for name, secret in request.secret_headers.items():
            rendered = await render_text_async(name, request.context, limits=self._limits)
            headers[rendered] = f"<secret {secret}>"
        details: dict[str, Any] = {
            "method": prepared.method,
            "url": prepared.url,
            "headers": headers,
        }
        if prepared.content is not None:
            details["body"] = json.loads(prepared.content)
        if request.signing_secret is not None:
            details["signed_with"] = f"<secret {request.signing_secret}>"
        answer = self._answers.get(meta.node_id, WebhookAnswer())
        details["answer"] = answer.model_dump(mode="json")
        accepted = request.accept_status
        ok = answer.status in accepted if accepted is not None else 200 <= answer.status < 300
        if not ok:
            refused = ApplicationError(
                f"{prepared.method} {prepared.url} answered {answer.status} (simulated)",
                type=WEBHOOK_REJECTED,
                non_retryable=True,
            )
            self._failed(meta, "webhook", refused, **details)
        self._keep(
            meta,
            EffectRecord(action="webhook", outcome=f"answered {answer.status}", details=details),
        )
        return CallWebhookResult(status=answer.status, body=answer.body)

    @activity.defn(name=EMIT_EVENT)
    async def emit_event(self, request: EmitEventInput) -> EmitEventResult:
        meta, context, limits = request.meta, request.context, self._limits
        try:
            payload = request.payload if request.payload is not None else {}
            event_type, properties = await render_value_async(
                [request.event_type, payload], context, limits=limits
            )
        except ApplicationError as err:
            self._failed(meta, "emit_event", err, event_type=request.event_type)
        topic = self._settings.kafka_emitted_topic
        event_id = event_id_for(meta.effect_key)
        envelope = {
            "id": event_id,
            "type": event_type,
            "user_id": meta.user_id,
            "properties": properties,
        }
        self._keep(
            meta,
            EffectRecord(
                action="emit_event", outcome="applied", details={"topic": topic, "event": envelope}
            ),
        )
        return EmitEventResult(event_id=event_id, topic=topic, partition=0, offset=0)

    # ---- the run's own bookkeeping ---------------------------------------------------------

    @activity.defn(name=RECORD_EXECUTION_OUTCOME)
    async def record_execution_outcome(self, outcome: ExecutionOutcomeInput) -> bool:
        self.outcomes[outcome.workflow_id] = outcome
        return True

    @activity.defn(name=LOAD_JOURNEY)
    async def load_journey(self, request: LoadJourneyInput) -> JourneySnapshot:
        found = self.journeys.get(request.journey_id)
        if found is None:
            raise ApplicationError(
                f"journey {request.journey_id} is not available to the simulation",
                type="UnknownJourney",
                non_retryable=True,
            )
        return found


@activity.defn(dynamic=True)
async def unknown_activity(_args: Sequence[RawValue]) -> NoReturn:
    """Any activity without a stand-in: fail at once, by name, rather than do something real."""
    name = activity.info().activity_type
    raise ApplicationError(
        f"activity {name!r} has no simulation stand-in; nothing was done",
        type=UNKNOWN_ACTIVITY,
        non_retryable=True,
    )

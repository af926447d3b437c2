"""Profile actions: load a user, update their attributes, move them to a lifecycle stage.

These are synchronous activities (`def`): SQLModel sessions block, so they run on the worker's
thread pool rather than stalling the event loop. Each action is one transaction, so a journey
step either happened completely or not at all and a retry starts from a clean state.

The user's row is read with `SELECT ... FOR UPDATE` (a no-op on SQLite, whose writers are
serialised anyway) so two journeys updating one profile at once cannot lose each other's
changes. JSON columns are always assigned a new document: SQLAlchemy does not notice in-place
mutation of a JSON value.

Each change is recorded in the effect ledger in its own transaction, keyed by the effect key:
an increment retried after a crash finds the record and is not applied twice. Two attempts
racing on one key cannot both commit (the ledger's primary key); the loser's retry returns the
winner's result.

A stage change is `journey.services.lifecycle.transition_stage`, the same function the API's
transition uses. Its `lifecycle.stage_changed` event is published after the commit under an id
derived from the effect key; a retry that finds the ledger record publishes it again with that id.
"""

from __future__ import annotations

from typing import Any

from confluent_kafka import Producer
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.attribute_ops import apply_operations
from activities.rendering import RenderLimits, render_value
from dsl.events import EventEnvelope
from dsl.stages import LIFECYCLE_STAGES, LifecycleStage
from journey.contracts.actions import (
    INVALID_STAGE,
    LIFECYCLE_TRANSITION,
    LOAD_USER,
    UNKNOWN_USER,
    UPDATE_ATTRIBUTES,
    ActionMeta,
    LifecycleTransitionInput,
    LifecycleTransitionResult,
    LoadUserInput,
    UpdateAttributesInput,
    UpdateAttributesResult,
    UserSnapshot,
)
from journey.core.db.engine import SessionFactory
from journey.core.db.models import User, WorkflowExecution
from journey.core.ledger import Ledger
from journey.services.lifecycle import (
    STAGE_CHANGED_EVENT,
    publish_stage_changed,
    stage_event,
    stage_event_id,
    transition_stage,
)
from journey.services.users import snapshot

__all__ = ["STAGE_CHANGED_EVENT", "ProfileActivities"]


def _locked_user(session: Session, user_id: str) -> User:
    user = session.get(User, user_id, with_for_update=True)
    if user is None:
        raise ApplicationError(
            f"user {user_id!r} does not exist", type=UNKNOWN_USER, non_retryable=True
        )
    return user


def _rendered_operation(operation: Any, context: Any, limits: RenderLimits | None) -> Any:
    """Templates may appear in values ("{{ event.properties.plan }}"), never in paths or ops."""
    if not isinstance(operation, dict):
        return operation
    rendered = dict(operation)
    for field in ("value", "by"):
        if field in rendered:
            rendered[field] = render_value(rendered[field], context, limits=limits)
    return rendered


def rendered_operations(
    operations: list[Any], context: Any, limits: RenderLimits | None
) -> list[Any]:
    return [_rendered_operation(operation, context, limits) for operation in operations]


def _record(session: Session, meta: ActionMeta, kind: str, outcome: str, result: BaseModel) -> None:
    """Add the effect to the ledger in the same transaction as the change it records."""
    Ledger.add_in(
        session,
        meta.effect_key,
        kind=kind,
        outcome=outcome,
        result=result.model_dump(mode="json"),
        **meta.origin(),
    )


class ProfileActivities:
    def __init__(
        self,
        session_factory: SessionFactory,
        limits: RenderLimits | None = None,
        *,
        producer: Producer | None = None,
        events_topic: str | None = None,
    ) -> None:
        """Without `producer` and `events_topic` stage changes are not announced on Kafka; the
        worker always passes both (activities/registry.py)."""
        self._session_factory = session_factory
        self._limits = limits
        self._producer = producer
        self._events_topic = events_topic

    @activity.defn(name=LOAD_USER)
    def load_user(self, request: LoadUserInput) -> UserSnapshot | None:
        with self._session_factory() as session:
            user = session.get(User, request.user_id)
            if user is not None or not request.create_if_missing:
                return snapshot(user) if user is not None else None
            user = User(id=request.user_id, current_lifecycle_stage=LifecycleStage.ACQUISITION)
            session.add(user)
            try:
                session.commit()
            except IntegrityError:
                # Another run created the profile between our read and insert: use theirs.
                session.rollback()
                user = session.get(User, request.user_id)
                if user is None:
                    raise
            return snapshot(user)

    @activity.defn(name=UPDATE_ATTRIBUTES)
    def update_attributes(self, request: UpdateAttributesInput) -> UpdateAttributesResult:
        # Render first: a template error must not leave a transaction (or a lock) open.
        # A sync activity: it runs on the worker's activity threads, not on the event loop.
        operations = rendered_operations(request.operations, request.context, self._limits)
        meta = request.meta
        with self._session_factory() as session:
            recorded = Ledger.lookup_in(session, meta.effect_key)
            if recorded is not None:
                return UpdateAttributesResult.model_validate(recorded.result)
            user = _locked_user(session, meta.user_id)
            updated = apply_operations(user.attributes, operations)
            user.attributes = updated  # a new object, so the change is detected
            session.add(user)
            result = UpdateAttributesResult(attributes=updated)
            _record(session, meta, "update_attributes", "delivered", result)
            session.commit()
            return result

    @activity.defn(name=LIFECYCLE_TRANSITION)
    def lifecycle_transition(self, request: LifecycleTransitionInput) -> LifecycleTransitionResult:
        meta = request.meta
        if request.stage not in LIFECYCLE_STAGES:
            raise ApplicationError(
                f"unknown lifecycle stage {request.stage!r}; expected one of {LIFECYCLE_STAGES}",
                type=INVALID_STAGE,
                non_retryable=True,
            )
        with self._session_factory() as session:
            recorded = Ledger.lookup_in(session, meta.effect_key)
            if recorded is not None:
                result = LifecycleTransitionResult.model_validate(recorded.result)
                # The attempt that committed may have died before the broker's ack: announce
                # again under the same id (consumers dedupe), so the event is at least once.
                if result.changed:
                    event = stage_event(session, stage_event_id(meta.effect_key))
                    if event is not None:
                        self._announce(event)
                return result
            user = _locked_user(session, meta.user_id)
            execution_id = session.exec(
                select(WorkflowExecution.id).where(
                    WorkflowExecution.temporal_workflow_id == meta.workflow_id
                )
            ).first()
            details: dict[str, Any] = {
                "journey_id": meta.journey_id,
                "journey_version": meta.journey_version,
                "workflow_id": meta.workflow_id,
                "run_id": meta.run_id,
                "node_id": meta.node_id,
                "effect_key": meta.effect_key,
            }
            change = transition_stage(
                session,
                user=user,
                to_stage=request.stage,
                reason=request.reason,
                details=details,
                source="journey",
                execution_id=execution_id,
                event_key=meta.effect_key,
            )
            result = LifecycleTransitionResult(
                from_stage=change.from_stage, to_stage=change.to_stage, changed=change.changed
            )
            # Already there: recorded as a no-op, with no second history row.
            outcome = "delivered" if change.changed else "noop"
            _record(session, meta, "lifecycle_transition", outcome, result)
            session.commit()
        if change.event is not None:
            self._announce(change.event)
        return result

    def _announce(self, event: EventEnvelope) -> None:
        """Publish after the commit; a broker error fails the attempt and Temporal retries it,
        which finds the ledger record and publishes again."""
        if self._producer is not None and self._events_topic is not None:
            publish_stage_changed(self._producer, self._events_topic, event)

"""`/api/users`: profiles, their lifecycle stage and history, and erasure.

Thin HTTP layer over `journey.services.users` and `journey.services.lifecycle`. A stage change (the
transition endpoint, or `stage` in a PUT) is the same `transition_stage` the journey action runs;
its `lifecycle.stage_changed` event is published after the commit, and a 503 then means the change
is stored but the event was not acknowledged: repeating the request (now a no-op) publishes the
same event again, under the same id. Erasure asks Temporal to cancel the user's open runs
first, so a Temporal outage erases nothing (503) rather than leave runs acting on a deleted
profile; it answers 200 with what it cancelled and deleted.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated, Any

from confluent_kafka import KafkaException
from fastapi import APIRouter, Body, Depends, HTTPException, Path, Query, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from api.auth import Admin, Editor, Operator, Principal, Viewer
from api.deps import AppState, SessionDep, StateDep
from api.errors import problem_responses
from api.schemas.users import (
    ErasurePublic,
    HistoryPublic,
    LifecyclePublic,
    StageTimePublic,
    TransitionCreate,
    TransitionPublic,
    UserPublic,
    UsersPublic,
    UserUpdate,
    history_item,
    transition_examples,
    update_examples,
)
from dsl.common import UserId as ValidUserId
from dsl.conditions import Condition
from dsl.events import EventEnvelope
from dsl.stages import LifecycleStage
from journey.core.db.models import User
from journey.core.kafka.clients import KafkaUnavailable
from journey.services import users
from journey.services.lifecycle import (
    TransitionResult,
    latest_stage_event,
    publish_stage_changed,
    time_in_stages,
    transition_stage,
)

router = APIRouter(
    prefix="/api/users",
    tags=["users"],
    responses=problem_responses(401, 403, 413, 422, 429, 500),
)
CANCEL_TIMEOUT_SECONDS = 10.0
FAN_OUT = 20  # concurrent cancel requests of one erasure
CONDITION_HELP = (
    'A condition (JSON) over user.* fields: {"field": "user.attributes.plan", "op": "eq", '
    '"value": "pro"}'
)


UserId = Annotated[str, Path(min_length=1, max_length=255, description="The customer's id")]
# Creating a profile takes only a valid id (dsl.common.UserId: printable, as events and starts);
# reads, transitions and erasure take any stored id, so an older profile stays reachable.
NewUserId = Annotated[ValidUserId, Path(description="The customer's id")]


def _unknown(user_id: str) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, f"no user with id {user_id!r}")


def load_user(user_id: UserId, session: SessionDep) -> User:
    if (row := session.get(User, user_id)) is None:
        raise _unknown(user_id)
    return row


UserDep = Annotated[User, Depends(load_user)]


def _condition(text: str | None) -> Condition | None:
    """The `condition` query parameter; 422 with `query.condition<pointer>` per problem."""
    if text is None:
        return None
    try:
        return users.parse_user_condition(text)
    except users.InvalidCondition as exc:
        raise RequestValidationError(
            [
                {"loc": ("query", f"condition{path}"), "msg": message, "type": "invalid_condition"}
                for path, message in exc.problems
            ]
        ) from None


def _actor(principal: Principal) -> dict[str, Any]:
    return {"actor": principal.subject, "role": principal.role.name}


def _event_of(session: Session, user_id: str, change: TransitionResult) -> EventEnvelope | None:
    """The event to publish: the change's, or for a no-op the one of the change that brought
    the user into the stage (published again under its id, so retrying after a 503 works)."""
    if change.event is not None:
        return change.event
    return latest_stage_event(session, user_id=user_id, stage=change.to_stage)


def _announce(state: AppState, event: EventEnvelope | None, stage: str) -> None:
    """Publish after the commit; 503 when the brokers do not acknowledge it."""
    if event is None:
        return
    try:
        publish_stage_changed(
            state.producer,
            state.settings.kafka_events_topic,
            event,
            timeout=state.settings.kafka_ack_timeout_seconds,
        )
    except (KafkaException, KafkaUnavailable, BufferError) as exc:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            f"the user is in {stage}, but the brokers did not acknowledge the "
            f"lifecycle.stage_changed event {event.id}; repeat the request to publish it "
            f"again: {exc}",
            headers={"Retry-After": "5"},
        ) from exc


@router.get("", response_model=UsersPublic, summary="List profiles, newest first")
def list_users(
    session: SessionDep,
    _: Viewer,
    stage: Annotated[LifecycleStage | None, Query(description="Current stage")] = None,
    condition: Annotated[str | None, Query(max_length=10_000, description=CONDITION_HELP)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=2**31)] = 0,
) -> UsersPublic:
    rows, total = users.matching_users(
        session,
        stage=stage.value if stage else None,
        condition=_condition(condition),
        limit=limit,
        offset=offset,
    )
    items = [UserPublic.of(row) for row in rows]
    return UsersPublic(items=items, total=total, limit=limit, offset=offset)


@router.get(
    "/{user_id}", response_model=UserPublic, responses=problem_responses(404), summary="A profile"
)
def get_user(_: Viewer, user: UserDep) -> UserPublic:
    return UserPublic.of(user)


@router.put(
    "/{user_id}",
    response_model=UserPublic,
    responses={201: {"model": UserPublic, "description": "Created"}, **problem_responses(409, 503)},
    summary="Create or update a profile (email, attributes, stage)",
)
def put_user(
    state: StateDep,
    session: SessionDep,
    principal: Editor,
    user_id: NewUserId,
    body: Annotated[UserUpdate, Body(openapi_examples=update_examples())],
    response: Response,
) -> UserPublic:
    """200 for an update, 201 for a new profile. Omitted fields keep their value."""
    sent = {name: getattr(body, name) for name in body.model_fields_set}
    try:
        done = users.upsert_user(
            session,
            user_id=user_id,
            fields=sent,
            attributes_mode=body.attributes_mode,
            reason=body.reason,
            details=_actor(principal),
        )
        event = _event_of(session, user_id, done.transition) if done.transition else None
        session.commit()
    except (users.EmailTaken, IntegrityError) as exc:
        session.rollback()
        raced = "a concurrent request took the email or created the profile; repeat the request"
        detail = str(exc) if isinstance(exc, users.EmailTaken) else raced
        raise HTTPException(status.HTTP_409_CONFLICT, detail) from exc
    _announce(state, event, done.user.current_lifecycle_stage)
    if done.created:
        response.status_code = status.HTTP_201_CREATED
    return UserPublic.of(done.user)


async def _cancel_runs(client: Client, workflow_ids: list[str]) -> int:
    """Ask Temporal to cancel each run; runs it no longer knows as open (NOT_FOUND) are fine.
    -> how many it accepted. Any other failure is a 503, before anything is deleted."""
    gate = asyncio.Semaphore(FAN_OUT)

    async def cancel(workflow_id: str) -> bool:
        async with gate:
            try:
                handle = client.get_workflow_handle(workflow_id)
                await asyncio.wait_for(handle.cancel(), CANCEL_TIMEOUT_SECONDS)
            except RPCError as exc:
                if exc.status == RPCStatusCode.NOT_FOUND:
                    return False
                raise
            return True

    try:
        return sum(await asyncio.gather(*(cancel(wid) for wid in workflow_ids)))
    except Exception as exc:  # RPC errors, timeouts, a client that cannot connect
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            f"could not cancel the user's runs in Temporal, so nothing was erased: {exc}",
            headers={"Retry-After": "5"},
        ) from exc


@router.delete(
    "/{user_id}",
    response_model=ErasurePublic,
    responses=problem_responses(404, 503),
    summary="Erase a user: cancel their runs, delete the profile and everything about it",
)
async def erase_user(state: StateDep, _: Admin, user_id: UserId) -> ErasurePublic:
    # Async for the Temporal calls; the blocking database work runs in the threadpool.
    def open_runs() -> list[str]:
        with state.session_factory() as session:
            if session.get(User, user_id) is None:
                raise _unknown(user_id)
            return users.open_run_ids(session, user_id=user_id)

    def erase() -> dict[str, int]:
        with state.session_factory() as session:
            deleted = users.erase_user(session, user_id=user_id)
            session.commit()
            return deleted

    cancelled = await _cancel_runs(state.temporal, await run_in_threadpool(open_runs))
    deleted = await run_in_threadpool(erase)
    return ErasurePublic(user_id=user_id, cancelled_runs=cancelled, deleted=deleted)


@router.get(
    "/{user_id}/lifecycle",
    response_model=LifecyclePublic,
    responses=problem_responses(404),
    summary="Current stage, since when, and the time spent in each stage",
)
def get_lifecycle(session: SessionDep, _: Viewer, user: UserDep) -> LifecyclePublic:
    history = users.stage_history(session, user_id=user.id)
    now = datetime.now(UTC)
    current = user.current_lifecycle_stage
    entered = [row.transitioned_at for row in history if row.to_stage == current]
    times = time_in_stages(
        created_at=user.created_at or now, current_stage=current, history=history, now=now
    )
    return LifecyclePublic(
        user_id=user.id,
        current_stage=current,
        since=entered[-1] if entered else user.created_at,
        transitions=len(history),
        stages=[StageTimePublic.of(item) for item in times],
    )


@router.post(
    "/{user_id}/lifecycle/transition",
    response_model=TransitionPublic,
    responses=problem_responses(404, 503),
    summary="Move the user to a stage (history, audit and a lifecycle.stage_changed event)",
)
def transition(
    state: StateDep,
    session: SessionDep,
    principal: Operator,
    user_id: UserId,
    body: Annotated[TransitionCreate, Body(openapi_examples=transition_examples())],
) -> TransitionPublic:
    """The current stage again changes nothing (200, `changed: false`)."""
    user = session.get(User, user_id, with_for_update=True)
    if user is None:
        raise _unknown(user_id)
    change = transition_stage(
        session,
        user=user,
        to_stage=body.stage.value,
        reason=body.reason,
        details=_actor(principal),
        source="api",
    )
    event = _event_of(session, user_id, change)
    session.commit()
    _announce(state, event, change.to_stage)
    return TransitionPublic.of(user_id, change, event.id if event else None)


@router.get(
    "/{user_id}/history",
    response_model=HistoryPublic,
    responses=problem_responses(404),
    summary="Stage transitions, journey runs and events of the user, newest first",
)
def get_history(
    session: SessionDep,
    _: Viewer,
    user: UserDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=2**31)] = 0,
) -> HistoryPublic:
    entries, total = users.user_history(session, user_id=user.id, limit=limit, offset=offset)
    items = [history_item(entry) for entry in entries]
    return HistoryPublic(items=items, total=total, limit=limit, offset=offset)

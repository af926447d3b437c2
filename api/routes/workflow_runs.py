"""Running journeys: start one (stored or inline), see where its runs are, stop them all.

Starting reserves the `workflow_executions` row first (keyed by the `Idempotency-Key`, or a
random key), then starts the Temporal run under an id built from the same key, so a repeated
request is deduplicated twice: by the unique index and by Temporal's workflow id. Keys are
unique per journey, not per caller; the row keeps a fingerprint of the request (body, journey,
caller), and the key sent with any other request is refused (422) rather than answered with
a run that is not the sender's. The run
itself mirrors its end into the row (activities/executions.py).

Inline documents (`/execute`) are stored as a journey row named `adhoc: <name>` with status
`archived`: the row satisfies the executions foreign key and keeps the exact document the run
used, while `archived` keeps it out of triggers and `/start` (only `active` journeys start).
Running a document of one's own needs the editor role, as storing one does; starting a stored
journey (`/start`) needs operator.

The handlers are async because they await Temporal; their database work is synchronous
(SQLModel) and runs in the threadpool, never on the event loop, where one slow query would
hold up every other request.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Response, status
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col, select
from temporalio.client import Client
from temporalio.service import RPCError

from api.auth import Principal, PrincipalDep, Role, require_role
from api.deps import StateDep
from api.errors import InvalidJourney
from api.schemas.executions import (
    CancelAllResult,
    ExecuteRequest,
    ExecutionOut,
    JourneyRunStatus,
    StartRequest,
)
from dsl.validation import validate_journey
from journey.contracts.ids import journey_workflow_id
from journey.contracts.runs import JourneySnapshot, JourneyState
from journey.core.db.models import User, Workflow, WorkflowExecution
from journey.services.definitions import snapshot_of
from journey.services.lifecycle import stage_limit_reason
from journey.services.live import RunNotFound, current_run_id
from journey.services.runs import executions
from journey.services.runs.starter import start_run

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/workflows", tags=["runs"])
OPEN = ("pending", "running")
STATUS_SAMPLE = 1000  # runs asked for their state by /status; the rest count as unsampled
FAN_OUT = 20  # concurrent Temporal calls of one request
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]


def _journey(session: Session, journey_id: uuid.UUID) -> Workflow:
    row = session.get(Workflow, journey_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "unknown journey")
    return row


def _ensure_user(session: Session, journey: Workflow, user_id: str) -> None:
    """The executions row needs the user; journeys that create profiles get it created here
    (the run's own create-if-missing then finds it)."""
    if session.get(User, user_id) is not None:
        return
    if not snapshot_of(journey).document.create_missing_profile:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "unknown user")
    session.add(User(id=user_id))
    session.commit()


class KeyReused(HTTPException):
    """The Idempotency-Key of an earlier, different request (IETF Idempotency-Key draft)."""

    def __init__(self) -> None:
        super().__init__(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            "this Idempotency-Key was already used for a different request (another body, "
            "journey or caller); send a new key for a new request",
        )


def _earlier(row: WorkflowExecution, fingerprint: str) -> ExecutionOut:
    """The answer to a repeated key: the earlier run, only if the request is the same one."""
    if row.request_fingerprint != fingerprint:  # NULL (a trigger's or an older row) never is
        raise KeyReused()
    return ExecutionOut.of(row)


@dataclass
class _Reserved:
    """A new execution row, not started yet."""

    row: ExecutionOut  # as reserved (`pending`), with the run's workflow id
    snapshot: JourneySnapshot


def _reserve(
    state: StateDep,
    journey_id: uuid.UUID,
    body: StartRequest,
    key: str,
    fingerprint: str,
    *,
    only_active: bool,
) -> ExecutionOut | _Reserved:
    """The database half before the start (blocking): the earlier execution under `key` (if
    this is the same request: `fingerprint`), or a new reserved row."""
    with state.session_factory() as session:
        journey = _journey(session, journey_id)
        if only_active and journey.status != "active":
            raise HTTPException(
                status.HTTP_409_CONFLICT, f"journey is {journey.status}; only active ones start"
            )
        existing = executions.find_by_key(session, workflow_id=journey.id, idempotency_key=key)
        if existing is not None:
            return _earlier(existing, fingerprint)
        snapshot = snapshot_of(journey)
        # A journey limited to stages (restrict_to_stages); an unknown user it would not create
        # is left to _ensure_user's 404.
        user = session.get(User, body.user_id)
        stage = user.current_lifecycle_stage if user is not None else None
        outside = stage_limit_reason(snapshot.document, stage)
        if outside is not None and (user is not None or snapshot.document.create_missing_profile):
            raise HTTPException(status.HTTP_409_CONFLICT, f"{outside} (restrict_to_stages)")
        _ensure_user(session, journey, body.user_id)
        temporal_id = journey_workflow_id(snapshot.journey_id, body.user_id, key)
        row, new = executions.reserve(
            session,
            journey=journey,
            user_id=body.user_id,
            temporal_workflow_id=temporal_id,
            idempotency_key=key,
            variables=body.variables,
            request_fingerprint=fingerprint,
        )
        return _Reserved(ExecutionOut.of(row), snapshot) if new else _earlier(row, fingerprint)


def _forget(state: StateDep, execution_id: uuid.UUID) -> None:
    with state.session_factory() as session:
        executions.forget(session, execution_id=execution_id)


def _mark_started(state: StateDep, execution_id: uuid.UUID, run_id: str) -> ExecutionOut:
    with state.session_factory() as session:
        executions.mark_started(session, execution_id=execution_id, run_id=run_id)
        started = session.get(WorkflowExecution, execution_id)
        assert started is not None
        return ExecutionOut.of(started)


async def _start(
    state: StateDep,
    journey_id: uuid.UUID,
    body: StartRequest,
    key: str | None,
    response: Response,
    *,
    caller: Principal,
    only_active: bool,
) -> ExecutionOut:
    key = key or uuid.uuid4().hex
    fingerprint = executions.request_fingerprint(
        route="execute" if isinstance(body, ExecuteRequest) else "start",
        journey_id=journey_id,
        caller=caller.subject,
        body=body.model_dump(mode="json"),
    )
    reserved = await run_in_threadpool(
        _reserve, state, journey_id, body, key, fingerprint, only_active=only_active
    )
    if isinstance(reserved, ExecutionOut):
        return reserved
    row, workflow_id = reserved.row, reserved.row.temporal_workflow_id
    try:
        # Already started (our row was lost, Temporal's run was not): that run is the answer.
        run_id, _ = await start_run(
            state.temporal,
            task_queue=state.settings.temporal_task_queue,
            snapshot=reserved.snapshot,
            user_id=body.user_id,
            workflow_id=workflow_id,
            throttled_actions=state.settings.throttled_actions,
            entry_event=body.entry_event,
            variables=body.variables,
        )
    except RPCError as exc:
        # The start may have got through with only its answer lost; a 503 then would invite
        # a retry that starts a second run (under a new key when the client sent none).
        try:
            run_id = await current_run_id(state.temporal, workflow_id, None)
        except (RunNotFound, RPCError):  # none, or no answer: nothing is known to have started
            await run_in_threadpool(_forget, state, row.id)
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, f"temporal: {exc}") from exc
    response.status_code = status.HTTP_201_CREATED
    try:
        return await run_in_threadpool(_mark_started, state, row.id, run_id)
    except OperationalError as exc:
        # The run has started, so this is a 201, not the database's 503 (which says nothing
        # was stored). The row stays `pending` until the run mirrors its end into it.
        log.warning("run %s started but its row was not marked: %s", workflow_id, exc)
        return row.model_copy(update={"status": "running", "temporal_run_id": run_id})


# Editor, like creating a journey: an inline document does whatever its nodes say (profile
# writes, webhooks, events), while an operator only starts journeys an editor wrote.
@router.post("/execute", response_model=ExecutionOut, dependencies=[require_role(Role.editor)])
async def execute(
    body: ExecuteRequest,
    state: StateDep,
    response: Response,
    caller: PrincipalDep,
    key: IdempotencyKey = None,
) -> ExecutionOut:
    """Validate an inline document and run it once for a user (ad-hoc runs, tests)."""
    result = validate_journey(body.document)
    if result.document is None:  # every problem, as POST /api/workflows answers them
        raise InvalidJourney(result.problems)
    row = Workflow(
        name=f"adhoc: {result.document.name}"[:255],
        description="ad-hoc run from POST /api/workflows/execute",
        definition=body.document,
        status="archived",
    )
    await run_in_threadpool(_save, state, row)
    return await _start(state, row.id, body, key, response, caller=caller, only_active=False)


def _save(state: StateDep, row: Workflow) -> None:
    with state.session_factory() as session:
        session.add(row)
        session.commit()


@router.post(
    "/{journey_id}/start", response_model=ExecutionOut, dependencies=[require_role(Role.operator)]
)
async def start(
    journey_id: uuid.UUID,
    body: StartRequest,
    state: StateDep,
    response: Response,
    caller: PrincipalDep,
    key: IdempotencyKey = None,
) -> ExecutionOut:
    """Start the journey's current version for a user; 201 for a new run, 200 with the
    earlier execution when the `Idempotency-Key` was used before for this same request (body
    and caller), 422 when it was used for another one."""
    return await _start(state, journey_id, body, key, response, caller=caller, only_active=True)


def _open_rows(session: Session, journey_id: uuid.UUID, limit: int | None) -> list[str]:
    query = (
        select(WorkflowExecution.temporal_workflow_id)
        .where(WorkflowExecution.workflow_id == journey_id, col(WorkflowExecution.status).in_(OPEN))
        .order_by(col(WorkflowExecution.started_at).desc())
    )
    return list(session.exec(query.limit(limit) if limit else query).all())


async def _fan_out(ids: list[str], call: Any) -> list[Any]:
    gate = asyncio.Semaphore(FAN_OUT)

    async def one(workflow_id: str) -> Any:
        async with gate:
            try:
                return await asyncio.wait_for(call(workflow_id), 10)
            except Exception:  # one unreachable run must not fail the whole answer
                return None

    return await asyncio.gather(*(one(workflow_id) for workflow_id in ids))


@router.get(
    "/{journey_id}/status",
    response_model=JourneyRunStatus,
    dependencies=[require_role(Role.viewer)],
)
async def run_status(journey_id: uuid.UUID, state: StateDep) -> JourneyRunStatus:
    """Open runs counted by current node, asked live (`state` query) because the mirror
    only records starts and ends. At most STATUS_SAMPLE runs are asked, newest first."""

    def read() -> tuple[Workflow, int, list[str]]:
        with state.session_factory() as session:
            journey = _journey(session, journey_id)
            running = len(_open_rows(session, journey_id, None))
            return journey, running, _open_rows(session, journey_id, STATUS_SAMPLE)

    journey, running, sample = await run_in_threadpool(read)
    client: Client = state.temporal

    async def ask(workflow_id: str) -> JourneyState:
        handle = client.get_workflow_handle(workflow_id)
        return await handle.query("state", result_type=JourneyState)

    by_node: dict[str, int] = {}
    for answer in await _fan_out(sample, ask):
        nodes = (answer.current_nodes or ["-"]) if answer is not None else ["unknown"]
        for node in nodes:
            by_node[node] = by_node.get(node, 0) + 1
    return JourneyRunStatus(
        journey_id=journey.id,
        status=journey.status,
        version=journey.version,
        running=running,
        sampled=len(sample),
        by_node=by_node,
    )


@router.post(
    "/{journey_id}/cancel",
    response_model=CancelAllResult,
    dependencies=[require_role(Role.operator)],
)
async def cancel_all(journey_id: uuid.UUID, state: StateDep) -> CancelAllResult:
    """Deactivate the journey (no new starts) and request cancellation of its open runs;
    the runs mirror `cancelled` into their rows as they stop."""

    def deactivate() -> list[str]:
        with state.session_factory() as session:
            journey = _journey(session, journey_id)
            journey.status = "inactive"
            session.add(journey)
            session.commit()
            return _open_rows(session, journey_id, None)

    open_ids = await run_in_threadpool(deactivate)
    client: Client = state.temporal

    async def cancel(workflow_id: str) -> bool:
        await client.get_workflow_handle(workflow_id).cancel()
        return True

    done = await _fan_out(open_ids, cancel)
    return CancelAllResult(
        journey_id=journey_id, status="inactive", cancelled=sum(bool(d) for d in done)
    )

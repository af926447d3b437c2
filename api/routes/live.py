"""Live views of runs: one execution over Server-Sent Events, a journey's runs over a WebSocket.

`GET /api/executions/{id}/stream` (viewer, the usual bearer token) follows one run
(journey/services/live.py): its transitions so far, then each new one as it happens, then its
outcome, and the stream ends. `Last-Event-ID` resumes after the event it names; after `end` there is
nothing left (204, which also stops a browser's EventSource from reconnecting). FastAPI's own
SSE support (`EventSourceResponse`) frames the events and sends its keep-alive pings.

`/api/workflows/{id}/executions/ws` sends the same events for every run of a journey, as JSON
messages, each naming its execution (api/journey_socket.py). Browsers cannot set headers on a
WebSocket, so besides `Authorization: Bearer` (refused at the handshake when invalid) the token
can come as the first message, `{"token": "..."}`; kept out of the URL, where access logs
would record it. A socket that does not authenticate is closed with 4401; any role may watch.
Opening a socket is charged to the caller's rate limit like a request (api/auth.py
`authenticate`): over it, the handshake is refused with 429 and Retry-After, or a socket that
authenticated by message is closed with 4429.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import (
    APIRouter,
    Depends,
    Header,
    HTTPException,
    Response,
    WebSocket,
    WebSocketDisconnect,
    status,
)
from fastapi.concurrency import run_in_threadpool
from fastapi.sse import EventSourceResponse, ServerSentEvent
from temporalio.service import RPCError

from api.auth import Principal, Role, authenticate, require_role
from api.deps import AppState, StateDep, execution_row
from api.errors import problem_response, problem_responses
from api.journey_socket import AUTH_TIMEOUT, PENDING_TRIES, describe_error, stream_journey
from journey.core.db.models import Workflow
from journey.services.live import (
    END_ID,
    Position,
    RunNotFound,
    current_run_id,
    follow_run,
    parse_position,
)

router = APIRouter(tags=["executions"])
LastEventId = Annotated[str | None, Header(alias="Last-Event-ID", max_length=100)]
# How long a browser's EventSource waits before it reconnects (sending Last-Event-ID).
RETRY_MS = 3000

# FastAPI documents the 200 itself (`text/event-stream`, one item schema per event).
STREAM_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Server-Sent Events: `node_entered`, `node_completed` and `waiting`, "
        "then `outcome` (id `end`); a `stream_error` event if following fails. Each `data` "
        "is a JSON object. A `: ping` comment comes after 15 quiet seconds."
    },
    204: {"description": "`Last-Event-ID: end`: the stream was already complete"},
    # Without `model`: FastAPI would also list each problem under `text/event-stream`.
    **{
        code: {key: value for key, value in doc.items() if key != "model"}
        for code, doc in problem_responses(400, 404, 503).items()
    },
}


@dataclass(frozen=True)
class _Follow:
    workflow_id: str
    run_id: str
    after: Position | None


async def _what_to_follow(
    execution_id: uuid.UUID, state: StateDep, response: Response, last_event_id: LastEventId = None
) -> _Follow | None:
    """The run to follow and where to resume; None (and 204) after `Last-Event-ID: end`.

    A dependency, not the stream's own code: FastAPI runs it before the response starts, so
    its refusals are real 4xx/5xx answers instead of errors inside a 200 stream."""
    row = await run_in_threadpool(execution_row, state, execution_id)
    if last_event_id == END_ID:
        response.status_code = status.HTTP_204_NO_CONTENT
        return None
    try:
        after = parse_position(last_event_id) if last_event_id else None
    except ValueError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"Last-Event-ID: {exc}") from exc
    tries = PENDING_TRIES if row.status == "pending" else 1
    try:
        run_id = await current_run_id(
            state.temporal, row.temporal_workflow_id, row.temporal_run_id, tries=tries
        )
    except RunNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    except RPCError as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, f"temporal: {exc}") from exc
    return _Follow(row.temporal_workflow_id, run_id, after)


@router.get(
    "/api/executions/{execution_id}/stream",
    response_class=EventSourceResponse,
    responses=STREAM_DOC,
    dependencies=[require_role(Role.viewer)],
)
async def stream_execution(
    state: StateDep, follow: Annotated[_Follow | None, Depends(_what_to_follow)]
) -> AsyncIterator[ServerSentEvent]:
    """Follow one run as Server-Sent Events: every node transition so far, then each new
    one as it happens, what the run waits for, and its outcome; then the stream ends."""
    if follow is None:
        return
    # FastAPI runs this generator in a task of its own and cancels it when the client goes
    # away; a name says whose it is in task dumps (and to the test that it is gone).
    task = asyncio.current_task()
    if task is not None:
        task.set_name(f"journey-live-sse:{follow.workflow_id}")
    # Sent with the first event: a block with `retry` alone is an empty event to some clients.
    retry: int | None = RETRY_MS
    events = follow_run(state.temporal, follow.workflow_id, follow.run_id, after=follow.after)
    try:
        async with contextlib.aclosing(events):
            async for event in events:
                yield ServerSentEvent(event=event.event, id=event.id, data=event.data, retry=retry)
                retry = None
    except Exception as exc:
        detail = {"detail": describe_error(exc)}
        yield ServerSentEvent(event="stream_error", data=detail, retry=retry)


# ---- the journey socket ----------------------------------------------------------------------


async def _header_principal(
    websocket: WebSocket, state: AppState, header: str | None
) -> Principal | None:
    """Check the `Authorization` header (none needed when auth is off) and charge the rate
    limit before accepting; refuse the handshake with the problem (401, 429) when it fails."""
    scheme, _, token = (header or "").partition(" ")
    try:
        bearer = token.strip() if scheme.lower() == "bearer" else None
        return authenticate(websocket, state.settings, bearer)
    except HTTPException as exc:
        detail, headers = str(exc.detail), dict(exc.headers or {})
        denial = problem_response(
            None, exc.status_code, detail, headers=headers, path=websocket.url.path
        )
        if "websocket.http.response" in websocket.scope.get("extensions", {}):
            await websocket.send_denial_response(denial)
        else:
            await websocket.close(code=1008, reason=str(exc.detail))
        return None


async def _message_principal(websocket: WebSocket, state: AppState) -> Principal | None:
    """Read `{"token": "..."}` as the first message; close with 4401 when it is not (4429
    when the caller is over its rate limit)."""
    token: Any = None
    try:
        text = await asyncio.wait_for(websocket.receive_text(), AUTH_TIMEOUT)
        token = json.loads(text).get("token")
    except WebSocketDisconnect:
        return None
    except (TimeoutError, ValueError, AttributeError, KeyError):  # late, not JSON, binary
        pass
    try:
        token = token if isinstance(token, str) else None
        missing = 'the first message must be {"token": "<bearer token>"}'
        return authenticate(websocket, state.settings, token, missing=missing)
    except HTTPException as exc:
        await websocket.close(code=4000 + exc.status_code, reason=str(exc.detail)[:120])
        return None


def _journey_exists(state: AppState, journey_id: uuid.UUID) -> bool:
    with state.session_factory() as session:
        return session.get(Workflow, journey_id) is not None


@router.websocket("/api/workflows/{journey_id}/executions/ws")
async def journey_socket(websocket: WebSocket, journey_id: uuid.UUID) -> None:
    state: AppState = websocket.app.state.journey
    header = websocket.headers.get("authorization")
    if state.settings.auth_disabled or header is not None:
        if await _header_principal(websocket, state, header) is None:
            return
        await websocket.accept()
    else:
        await websocket.accept()
        if await _message_principal(websocket, state) is None:
            return
    if not await run_in_threadpool(_journey_exists, state, journey_id):
        await websocket.close(code=4404, reason="unknown journey")
        return
    await stream_journey(websocket, state, journey_id)

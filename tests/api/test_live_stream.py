"""Live streams with real clients: SSE (httpx + httpx-sse) and the journey WebSocket
(`websockets`), against the gateway on uvicorn, a real worker and the Temporal dev server.

The runs wait for an event, so each test sees the transitions up to the wait arrive *before*
it sends the event, and the rest after.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import pytest_asyncio
import websockets
from httpx_sse import ServerSentEvent, aconnect_sse
from temporalio.client import Client

from api.auth import Role
from journey.core.config import Settings
from journey.core.db.engine import SessionFactory, create_db_engine, make_session_factory
from journey.core.db.models import User, Workflow, WorkflowExecution, WorkflowVersion
from tests.api.auth_helpers import auth_settings, bearer
from tests.api.live_server import serve_api
from tests.harness.env import JourneyEnv
from worker import journey_worker

WAITS_FOR_PURCHASE = {
    "name": "check, wait, end",
    "start": "check",
    "nodes": [
        {
            "id": "check",
            "type": "condition",
            "default": "wait",
            "branches": [
                {"when": {"field": "user.attributes.vip", "op": "eq", "value": True}, "next": "vip"}
            ],
        },
        {
            "id": "wait",
            "type": "wait_for_event",
            "event_type": "purchase",
            "timeout": "P3D",
            "on_event": "bought",
            "on_timeout": "gave_up",
        },
        {"id": "bought", "type": "end", "outcome": "bought"},
        {"id": "gave_up", "type": "end", "outcome": "gave_up"},
        {"id": "vip", "type": "end", "outcome": "vip"},
    ],
}
UP_TO_THE_WAIT = [
    ("node_entered", "check"),
    ("node_completed", "check"),
    ("node_entered", "wait"),
    ("waiting", "wait"),
]
AFTER_THE_EVENT = [
    ("node_completed", "wait"),
    ("node_entered", "bought"),
    ("node_completed", "bought"),
    ("outcome", "bought"),
]


@dataclass
class Live:
    url: str
    http: httpx.AsyncClient
    sessions: SessionFactory
    settings: Settings
    temporal: Client

    def headers(self, role: Role = Role.viewer) -> dict[str, str]:
        return bearer(self.settings, role)

    def journey(self) -> str:
        with self.sessions() as session:
            row = Workflow(name="live", definition=WAITS_FOR_PURCHASE, version="1", status="active")
            session.add(row)
            session.commit()
            session.add(WorkflowVersion(workflow_id=row.id, version="1", definition=row.definition))
            session.commit()
            return str(row.id)

    async def start(self, journey_id: str, user_id: str) -> dict[str, Any]:
        with self.sessions() as session:
            if session.get(User, user_id) is None:
                session.add(User(id=user_id))
                session.commit()
        started = await self.http.post(
            f"/api/workflows/{journey_id}/start",
            json={"user_id": user_id},
            headers=self.headers(Role.operator),
        )
        assert started.status_code == 201, started.text
        body: dict[str, Any] = started.json()
        return body

    async def send(self, execution_id: str, user_id: str) -> None:
        sent = await self.http.post(
            f"/api/executions/{execution_id}/events",
            json={"type": "purchase", "user_id": user_id},
            headers=self.headers(Role.operator),
        )
        assert sent.status_code == 202, sent.text

    def status(self, execution_id: str) -> str:
        with self.sessions() as session:
            row = session.get(WorkflowExecution, uuid.UUID(execution_id))
            assert row is not None
            return row.status


@pytest_asyncio.fixture
async def live(journey_env: JourneyEnv) -> AsyncIterator[Live]:
    settings = auth_settings(journey_env.settings, stream_poll_seconds=0.2)
    engine = create_db_engine(settings.resolved_database_url)
    sessions = make_session_factory(engine)
    try:
        async with (
            journey_worker(journey_env.temporal_client, settings, sessions),
            serve_api(settings) as url,
            httpx.AsyncClient(base_url=url, timeout=30) as http,
        ):
            yield Live(url, http, sessions, settings, journey_env.temporal_client)
    finally:
        engine.dispose()


def label(event: ServerSentEvent) -> tuple[str, str]:
    data = event.json()
    if event.event == "waiting":
        return event.event, data["nodes"][0]
    return event.event, data.get("node_id") or data.get("outcome")


async def read_until(events: AsyncIterator[ServerSentEvent], last: str) -> list[ServerSentEvent]:
    seen = []
    async for event in events:
        seen.append(event)
        if event.event == last:
            return seen
    raise AssertionError(f"the stream ended before {last!r}: {[label(e) for e in seen]}")


async def test_a_run_streams_up_to_its_wait_then_the_rest_after_the_event(live: Live) -> None:
    execution = await live.start(live.journey(), "ada")
    path = f"/api/executions/{execution['id']}/stream"
    async with aconnect_sse(live.http, "GET", path, headers=live.headers()) as source:
        assert source.response.headers["content-type"].startswith("text/event-stream")
        events = source.aiter_sse()
        before = await read_until(events, "waiting")
        assert [label(e) for e in before] == UP_TO_THE_WAIT
        assert [e.retry for e in before] == [3000, None, None, None]  # once, with the first
        assert before[-1].json()["kind"] == "event"
        assert "purchase" in before[-1].json()["waiting_for"]
        assert live.status(execution["id"]) == "running"  # nothing else has happened yet
        await live.send(execution["id"], "ada")
        after = await read_until(events, "outcome")
        assert [label(e) for e in after] == AFTER_THE_EVENT
        outcome = after[-1]
        assert (outcome.id, outcome.json()["status"]) == ("end", "completed")
        assert [e async for e in events] == []  # and the stream ends
    live_ids = [e.id for e in before + after if e.event != "waiting"]

    # The finished run replays the same transitions, with the same ids, then ends.
    async with aconnect_sse(live.http, "GET", path, headers=live.headers()) as source:
        replay = [e async for e in source.aiter_sse()]
    assert [label(e) for e in replay] == UP_TO_THE_WAIT[:3] + AFTER_THE_EVENT
    assert [e.id for e in replay] == live_ids

    # Last-Event-ID resumes after the event it names; after `end` there is nothing (204).
    resume = {**live.headers(), "Last-Event-ID": live_ids[2]}
    async with aconnect_sse(live.http, "GET", path, headers=resume) as source:
        rest = [e async for e in source.aiter_sse()]
    assert [label(e) for e in rest] == AFTER_THE_EVENT
    done = await live.http.get(path, headers={**live.headers(), "Last-Event-ID": "end"})
    assert (done.status_code, done.content) == (204, b"")
    bad = await live.http.get(path, headers={**live.headers(), "Last-Event-ID": "nope"})
    assert bad.status_code == 400 and "Last-Event-ID" in bad.json()["detail"]


async def test_a_run_stopped_from_outside_ends_the_stream_with_how_it_ended(live: Live) -> None:
    execution = await live.start(live.journey(), "ada")
    path = f"/api/executions/{execution['id']}/stream"
    async with aconnect_sse(live.http, "GET", path, headers=live.headers()) as source:
        events = source.aiter_sse()
        await read_until(events, "waiting")
        handle = live.temporal.get_workflow_handle(execution["temporal_workflow_id"])
        await handle.terminate(reason="ops: stopped by hand")
        [outcome] = await read_until(events, "outcome")
    assert outcome.json()["status"] == "terminated"
    assert outcome.json()["error"] == "ops: stopped by hand"


async def test_the_stream_needs_a_token_and_a_known_execution(live: Live) -> None:
    execution = await live.start(live.journey(), "ada")
    path = f"/api/executions/{execution['id']}/stream"
    assert (await live.http.get(path)).status_code == 401
    bad = {"Authorization": "Bearer not-a-token"}
    assert (await live.http.get(path, headers=bad)).status_code == 401
    unknown = f"/api/executions/{uuid.uuid4()}/stream"
    assert (await live.http.get(unknown, headers=live.headers())).status_code == 404


def live_tasks() -> list[asyncio.Task[Any]]:
    return [t for t in asyncio.all_tasks() if t.get_name().startswith("journey-live-")]


async def test_keep_alives_flow_and_a_disconnect_leaves_nothing_running(live: Live) -> None:
    """FastAPI sends the keep-alive (`: ping`) after 15 quiet seconds, a fixed interval it does
    not let an app change, so this test waits that long once the run is parked."""
    execution = await live.start(live.journey(), "ada")
    path = f"/api/executions/{execution['id']}/stream"
    assert live_tasks() == []
    lines: list[str] = []
    async with live.http.stream("GET", path, headers=live.headers()) as response:
        async for line in response.aiter_lines():
            lines.append(line)
            if line.startswith(":") and "event: waiting" in lines:
                break
        assert lines[-1] == ": ping"  # a comment, which EventSource clients ignore
        assert len(live_tasks()) == 1  # the stream's generator, parked in a long poll
    await no_live_tasks_left()  # the client is gone: the server noticed and cancelled it


async def no_live_tasks_left() -> None:
    for _ in range(100):  # a hang guard: the server notices a closed connection at once
        if not live_tasks():
            return
        await asyncio.sleep(0.05)
    assert live_tasks() == []


def ws_url(live: Live, journey_id: str) -> str:
    return live.url.replace("http://", "ws://") + f"/api/workflows/{journey_id}/executions/ws"


async def receive_until(socket: Any, done: Any) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    while not done(messages):
        messages.append(json.loads(await socket.recv()))
    return messages


def per_run(messages: list[dict[str, Any]], execution_id: str) -> list[tuple[str, str]]:
    mine = [m for m in messages if m.get("execution_id") == execution_id and m["event"] != "run"]
    return [
        (
            m["event"],
            (m["data"].get("nodes") or [None])[0]
            or m["data"].get("node_id")
            or m["data"].get("outcome"),
        )
        for m in mine
    ]


def has(event: str, execution_id: str) -> Any:
    return lambda ms: any(m["event"] == event and m.get("execution_id") == execution_id for m in ms)


async def test_the_journey_socket_follows_open_and_new_runs(live: Live) -> None:
    journey_id = live.journey()
    first = await live.start(journey_id, "ada")
    token = live.headers()["Authorization"].removeprefix("Bearer ")
    async with websockets.connect(ws_url(live, journey_id)) as socket:
        await socket.send(json.dumps({"token": token}))  # as a browser would: no headers
        hello = json.loads(await socket.recv())
        assert hello == {"event": "subscribed", "journey_id": journey_id, "open": 1, "following": 1}
        messages = await receive_until(socket, has("waiting", first["id"]))
        second = await live.start(journey_id, "grace")  # starts while the socket is open
        messages += await receive_until(socket, has("waiting", second["id"]))
        assert {m["execution_id"] for m in messages if m["event"] == "run"} == {
            first["id"],
            second["id"],
        }
        for execution in (first, second):
            assert per_run(messages, execution["id"]) == UP_TO_THE_WAIT
            await live.send(execution["id"], execution["user_id"])
        messages += await receive_until(
            socket, lambda ms: has("outcome", first["id"])(ms) and has("outcome", second["id"])(ms)
        )
        assert live_tasks()  # the socket's reader, writer and run finder
    await no_live_tasks_left()  # closing the socket stopped them all
    for execution in (first, second):
        assert per_run(messages, execution["id"]) == UP_TO_THE_WAIT + AFTER_THE_EVENT
        assert messages[-1]["data"]["status"] == "completed"


async def test_the_journey_socket_refuses_missing_and_bad_tokens(live: Live) -> None:
    url = ws_url(live, live.journey())
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with websockets.connect(url, additional_headers={"Authorization": "Bearer nope"}):
            pass
    assert refused.value.response.status_code == 401
    for first_message in (json.dumps({"token": "nope"}), "not json", json.dumps({"no": "token"})):
        async with websockets.connect(url) as socket:
            await socket.send(first_message)
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await socket.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
    unknown = ws_url(live, str(uuid.uuid4()))
    async with websockets.connect(unknown, additional_headers=live.headers()) as socket:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await socket.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4404

"""Runs through the gateway: a real app, a real worker and the dev server, end to end.

Journeys are inserted directly (the definitions router is separate); everything else goes
through HTTP, and the mirror table is checked after each run ends.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import pytest_asyncio
from pydantic import SecretStr
from sqlalchemy.exc import OperationalError
from sqlmodel import col, select
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

import api.routes.workflow_runs as routes
from api.auth import Role, create_token
from journey.core.config import Settings
from journey.core.db.engine import SessionFactory, create_db_engine, make_session_factory
from journey.core.db.models import User, Workflow, WorkflowExecution, WorkflowVersion
from journey.core.kafka.clients import ensure_topics
from tests.api.conftest import ApiClientFactory
from tests.harness.env import JourneyEnv
from worker import journey_worker


def waiting(outcome: str = "bought", **extra: Any) -> dict[str, Any]:
    return {
        "name": f"wait then {outcome}",
        "start": "wait",
        "nodes": [
            {
                "id": "wait",
                "type": "wait_for_event",
                "event_type": "purchase",
                "timeout": "P3D",
                "on_event": "bought",
                "on_timeout": "gave_up",
            },
            {"id": "bought", "type": "end", "outcome": outcome},
            {"id": "gave_up", "type": "end", "outcome": "gave_up"},
        ],
        **extra,
    }


@dataclass
class Api:
    http: httpx.AsyncClient  # sends an operator's token unless told otherwise
    sessions: SessionFactory
    temporal: Client
    settings: Settings

    def bearer(self, role: Role) -> dict[str, str]:
        return {"Authorization": f"Bearer {create_token(self.settings, subject='t', role=role)}"}

    def journey(self, document: dict[str, Any], *, status: str = "active") -> str:
        with self.sessions() as session:
            row = Workflow(name=document["name"], definition=document, version="1", status=status)
            session.add(row)
            session.commit()
            session.add(WorkflowVersion(workflow_id=row.id, version="1", definition=document))
            session.commit()
            return str(row.id)

    def user(self, user_id: str) -> None:
        with self.sessions() as session:
            session.add(User(id=user_id))
            session.commit()

    def row(self, execution_id: str) -> WorkflowExecution:
        with self.sessions() as session:
            found = session.get(WorkflowExecution, uuid.UUID(execution_id))
            assert found is not None
            return found

    async def start(self, journey_id: str, user_id: str = "u1", **headers: str) -> httpx.Response:
        body = {"user_id": user_id}
        return await self.http.post(
            f"/api/workflows/{journey_id}/start", json=body, headers=headers
        )

    async def send(self, execution_id: str, event_type: str, user_id: str = "u1") -> None:
        event = {"type": event_type, "user_id": user_id}
        sent = await self.http.post(f"/api/executions/{execution_id}/events", json=event)
        assert sent.status_code == 202, sent.text

    async def until(self, execution_id: str, *statuses: str) -> WorkflowExecution:
        for _ in range(100):
            row = self.row(execution_id)
            if row.status in statuses:
                return row
            await asyncio.sleep(0.1)
        raise AssertionError(f"execution stayed {row.status}")

    async def at_node(self, execution_id: str, node: str) -> dict[str, Any]:
        for _ in range(100):
            detail: dict[str, Any] = (await self.http.get(f"/api/executions/{execution_id}")).json()
            if detail.get("current_nodes") == [node] and detail.get("waiting_for"):
                return detail
            await asyncio.sleep(0.1)
        raise AssertionError(f"execution never waited at {node}")


@pytest_asyncio.fixture
async def api(
    journey_env: JourneyEnv, api_client_for: ApiClientFactory, migrated_database_url: str
) -> AsyncIterator[Api]:
    """The gateway and a worker sharing one database: SQLite, and PostgreSQL when configured."""
    settings = journey_env.settings.model_copy(
        update={"jwt_secret": SecretStr("s" * 32), "database_url": migrated_database_url}
    )
    ensure_topics(settings)
    engine = create_db_engine(settings.resolved_database_url)
    sessions = make_session_factory(engine)
    token = create_token(settings, subject="tester", role=Role.operator)
    try:
        async with (
            journey_worker(journey_env.temporal_client, settings, sessions),
            api_client_for(settings) as http,
        ):
            http.headers["Authorization"] = f"Bearer {token}"
            yield Api(http, sessions, journey_env.temporal_client, settings)
    finally:
        engine.dispose()


async def test_start_wait_deliver_and_the_row_completes(api: Api) -> None:
    journey_id = api.journey(waiting())
    api.user("u1")
    started = await api.start(journey_id)
    assert started.status_code == 201, started.text
    execution = started.json()
    assert execution["status"] == "running" and execution["journey_version"] == "1"
    detail = await api.at_node(execution["id"], "wait")
    assert detail["live"] is True and detail["waiting_for"]
    assert detail["temporal_ui_url"].endswith(
        f"/namespaces/default/workflows/{execution['temporal_workflow_id']}"
        f"/{execution['temporal_run_id']}/history"
    )
    await api.send(execution["id"], "purchase")
    row = await api.until(execution["id"], "completed")
    assert row.outcome == "bought" and row.completed_at is not None
    listed = (await api.http.get("/api/executions", params={"status": "completed"})).json()
    assert [item["id"] for item in listed["items"]] == [execution["id"]]
    assert (await api.http.post(f"/api/executions/{execution['id']}/cancel")).status_code == 409


async def test_the_same_idempotency_key_returns_the_same_execution(api: Api) -> None:
    journey_id = api.journey(waiting())
    api.user("u1")
    first = await api.start(journey_id, **{"Idempotency-Key": "order-7"})
    again = await api.start(journey_id, **{"Idempotency-Key": "order-7"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert first.json()["temporal_workflow_id"].endswith("-order-7")
    page = (await api.http.get("/api/executions", params={"journey_id": journey_id})).json()
    assert page["total"] == 1


async def test_only_active_journeys_and_known_users_start(api: Api) -> None:
    draft = api.journey(waiting(), status="inactive")
    assert (await api.start(draft)).status_code == 409
    active = api.journey(waiting())
    assert (await api.start(active, user_id="nobody")).status_code == 404
    creates = api.journey(waiting(create_missing_profile=True))
    started = await api.start(creates, user_id="newcomer")
    assert started.status_code == 201, started.text


async def test_a_run_keeps_the_version_it_started_with(api: Api) -> None:
    journey_id = api.journey(waiting("v1"))
    api.user("u1")
    execution = (await api.start(journey_id)).json()
    await api.at_node(execution["id"], "wait")
    with api.sessions() as session:
        row = session.get(Workflow, uuid.UUID(journey_id))
        assert row is not None
        row.definition, row.version = waiting("v2"), "2"
        session.add(row)
        session.commit()
    await api.send(execution["id"], "purchase")
    finished = await api.until(execution["id"], "completed")
    assert (finished.outcome, finished.workflow_version) == ("v1", "1")


async def test_cancelling_a_journey_cancels_its_runs(api: Api) -> None:
    journey_id = api.journey(waiting())
    ids = []
    for user_id in ("u1", "u2"):
        api.user(user_id)
        execution = (await api.start(journey_id, user_id=user_id)).json()
        await api.at_node(execution["id"], "wait")
        ids.append(execution["id"])
    status = (await api.http.get(f"/api/workflows/{journey_id}/status")).json()
    assert (status["running"], status["by_node"]) == (2, {"wait": 2})
    cancelled = await api.http.post(f"/api/workflows/{journey_id}/cancel")
    assert cancelled.json()["cancelled"] == 2
    for execution_id in ids:
        assert (await api.until(execution_id, "cancelled")).completed_at is not None
    assert (await api.start(journey_id)).status_code == 409  # now inactive


async def test_cancelling_one_execution(api: Api) -> None:
    journey_id = api.journey(waiting())
    api.user("u1")
    execution = (await api.start(journey_id)).json()
    await api.at_node(execution["id"], "wait")
    cancel = await api.http.post(f"/api/executions/{execution['id']}/cancel")
    assert cancel.status_code == 202
    await api.until(execution["id"], "cancelled")
    event = {"type": "purchase", "user_id": "u1"}
    late = await api.http.post(f"/api/executions/{execution['id']}/events", json=event)
    assert late.status_code == 409


async def test_execute_validates_then_runs_an_inline_document(api: Api) -> None:
    api.user("u1")
    editor = api.bearer(Role.editor)  # running a document of one's own is an editor's right
    invalid = await api.http.post(
        "/api/workflows/execute", json={"user_id": "u1", "document": {"name": "x"}}, headers=editor
    )
    assert invalid.status_code == 422
    inline = {"name": "inline", "start": "done", "nodes": [{"id": "done", "type": "end"}]}
    started = await api.http.post(
        "/api/workflows/execute", json={"user_id": "u1", "document": inline}, headers=editor
    )
    assert started.status_code == 201, started.text
    row = await api.until(started.json()["id"], "completed")
    with api.sessions() as session:
        journey = session.get(Workflow, row.workflow_id)
        assert journey is not None and (journey.name, journey.status) == (
            "adhoc: inline",
            "archived",
        )


async def test_reading_needs_a_token(api: Api) -> None:
    anonymous = await api.http.get("/api/executions", headers={"Authorization": ""})
    assert anonymous.status_code == 401


# A 503 tells the client to retry, and a retry without the first request's Idempotency-Key
# starts another run: the gateway answers 503 only when no run was started.
LOST = RPCError("connection reset", RPCStatusCode.UNAVAILABLE, b"")


def _rows(api: Api) -> list[WorkflowExecution]:
    with api.sessions() as session:
        return list(session.exec(select(WorkflowExecution).order_by(col(WorkflowExecution.id))))


async def _start_with(
    api: Api, monkeypatch: pytest.MonkeyPatch, owner: object, name: str, replacement: Any
) -> httpx.Response:
    """A start of a fresh journey for a fresh user while `owner.name` is `replacement`."""
    monkeypatch.setattr(owner, name, replacement)
    journey_id = api.journey(waiting())
    api.user("u1")
    return await api.start(journey_id)


async def test_a_start_whose_answer_was_lost_answers_with_the_run_temporal_has(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = routes.start_run

    async def started_then_lost(*args: Any, **kwargs: Any) -> tuple[str, bool]:
        await real(*args, **kwargs)
        raise LOST

    answer = await _start_with(api, monkeypatch, routes, "start_run", started_then_lost)
    assert answer.status_code == 201, answer.text
    body = answer.json()
    handle = api.temporal.get_workflow_handle(body["temporal_workflow_id"])
    described = await handle.describe()
    assert body["temporal_run_id"] == described.run_id
    assert described.status == WorkflowExecutionStatus.RUNNING
    [row] = _rows(api)
    assert (row.status, row.temporal_run_id) == ("running", described.run_id)


async def test_a_start_temporal_never_got_is_503_and_leaves_no_row(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def never_arrives(*_args: Any, **_kwargs: Any) -> tuple[str, bool]:
        raise LOST

    answer = await _start_with(api, monkeypatch, routes, "start_run", never_arrives)
    assert answer.status_code == 503, answer.text
    assert _rows(api) == []


async def test_a_started_run_whose_row_cannot_be_marked_is_still_201(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    def locked(*_args: Any, **_kwargs: Any) -> None:
        raise OperationalError("UPDATE workflow_executions", {}, Exception("database is locked"))

    answer = await _start_with(api, monkeypatch, routes.executions, "mark_started", locked)
    assert answer.status_code == 201, answer.text
    body = answer.json()
    described = await api.temporal.get_workflow_handle(body["temporal_workflow_id"]).describe()
    assert (body["status"], body["temporal_run_id"]) == ("running", described.run_id)
    [row] = _rows(api)
    assert row.status == "pending"  # until the run mirrors its end into it

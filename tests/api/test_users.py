"""`/api/users` over HTTP on both databases: upsert, read, list with stage and condition
filters (422 paths), roles, and erasure (runs cancelled in Temporal, rows gone).

The app talks to the session's real broker and Temporal dev server; each test gets its own
events topic, so what it reads there is its own.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from pydantic import SecretStr
from sqlalchemy import func
from sqlmodel import select
from temporalio.client import WorkflowFailureError

from api.auth import Role, create_token
from journey.core.config import Settings
from journey.core.db.engine import SessionFactory, create_db_engine, make_session_factory
from journey.core.db.models import (
    Delivery,
    LifecycleEvent,
    Trigger,
    TriggerExecution,
    User,
    UserLifecycleHistory,
    UserSegment,
    UserSegmentMembership,
    Workflow,
    WorkflowExecution,
    WorkflowVersion,
)
from journey.core.kafka.clients import ensure_topics
from tests.api.conftest import ApiClientFactory
from tests.harness.env import JourneyEnv
from worker import journey_worker

PROBLEM_JSON = "application/problem+json"
WAITING = {
    "name": "waits",
    "start": "wait",
    "nodes": [
        {
            "id": "wait",
            "type": "wait_for_event",
            "event_type": "purchase",
            "timeout": "P3D",
            "on_event": "done",
            "on_timeout": "done",
        },
        {"id": "done", "type": "end"},
    ],
}


@dataclass
class Api:
    http: httpx.AsyncClient
    settings: Settings
    sessions: SessionFactory

    def headers(self, role: Role) -> dict[str, str]:
        token = create_token(self.settings, subject=f"{role.name}-1", role=role)
        return {"Authorization": f"Bearer {token}"}

    def user(self, user_id: str, **fields: Any) -> None:
        with self.sessions() as session:
            session.add(User(id=user_id, **fields))
            session.commit()

    def journey(self, document: dict[str, Any] | None = None, *, status: str = "active") -> str:
        document = document or WAITING
        with self.sessions() as session:
            row = Workflow(name=document["name"], definition=document, version="1", status=status)
            session.add(row)
            session.commit()
            session.add(WorkflowVersion(workflow_id=row.id, version="1", definition=document))
            session.commit()
            return str(row.id)

    def count(self, model: Any, *where: Any) -> int:
        with self.sessions() as session:
            query = select(func.count()).select_from(model)
            for clause in where:
                query = query.where(clause)
            return int(session.exec(query).one())

    async def put(self, user_id: str, expect: int = 200, **body: Any) -> dict[str, Any]:
        answer = await self.http.put(f"/api/users/{user_id}", json=body)
        assert answer.status_code == expect, answer.text
        return dict(answer.json())


@pytest_asyncio.fixture
async def api(
    journey_env: JourneyEnv, migrated_database_url: str, api_client_for: ApiClientFactory
) -> AsyncIterator[Api]:
    """The gateway on SQLite and PostgreSQL, with the real broker and Temporal."""
    settings = journey_env.settings.model_copy(
        update={
            "jwt_secret": SecretStr("u" * 32),
            "database_url": migrated_database_url,
            "kafka_events_topic": f"events-{uuid.uuid4().hex[:8]}",
        }
    )
    ensure_topics(settings, [settings.kafka_events_topic])
    engine = create_db_engine(settings.resolved_database_url)
    try:
        async with api_client_for(settings) as http:
            api = Api(http, settings, make_session_factory(engine))
            http.headers.update(api.headers(Role.editor))
            yield api
    finally:
        engine.dispose()


def problem_paths(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    return {error["path"]: error["message"] for error in response.json()["errors"]}


def read_events(settings: Settings, count: int) -> list[tuple[bytes | None, dict[str, Any]]]:
    """The first `count` messages of the events topic, read by assignment (no group join)."""
    topic = settings.kafka_events_topic
    reader = Consumer(
        {
            "bootstrap.servers": settings.resolved_kafka_bootstrap,
            "group.id": f"reader-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
        }
    )
    try:
        partitions = reader.list_topics(topic, timeout=10).topics[topic].partitions
        reader.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        found: list[tuple[bytes | None, dict[str, Any]]] = []
        deadline = datetime.now(UTC) + timedelta(seconds=60)
        while len(found) < count and datetime.now(UTC) < deadline:
            message = reader.poll(0.5)
            if message is not None and message.error() is None and message.value():
                found.append((message.key(), json.loads(message.value() or b"")))
        return found
    finally:
        reader.close()


def topic_size(settings: Settings) -> int:
    """Messages on the events topic (end offsets; each publish is flushed on its own)."""
    topic = settings.kafka_events_topic
    probe = Consumer(
        {
            "bootstrap.servers": settings.resolved_kafka_bootstrap,
            "group.id": f"probe-{uuid.uuid4().hex[:8]}",
        }
    )
    try:
        partitions = probe.list_topics(topic, timeout=10).topics[topic].partitions
        return sum(
            probe.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in partitions
        )
    finally:
        probe.close()


async def test_put_creates_then_updates_only_what_is_sent(api: Api) -> None:
    attributes = {"plan": "pro", "company": {"name": "AE", "size": 3}}
    created = await api.put("ada", 201, email="ada@example.com", attributes=attributes)
    assert (created["id"], created["email"], created["current_lifecycle_stage"]) == (
        "ada",
        "ada@example.com",
        "Acquisition",
    )
    assert (await api.http.get("/api/users/ada")).json() == created

    # merge is shallow: a top-level key replaces the stored value whole, the others stay.
    merged = await api.put("ada", attributes={"company": {"name": "AE Ltd"}, "seats": 2})
    assert merged["attributes"] == {"plan": "pro", "company": {"name": "AE Ltd"}, "seats": 2}
    assert merged["email"] == "ada@example.com"  # omitted: kept
    replaced = await api.put("ada", attributes={"plan": "team"}, attributes_mode="replace")
    assert replaced["attributes"] == {"plan": "team"}
    cleared = await api.put("ada", email=None)
    assert (cleared["email"], cleared["attributes"]) == (None, {"plan": "team"})
    assert cleared["created_at"] == created["created_at"]
    # No stage in the body: no history, nothing published.
    assert api.count(UserLifecycleHistory) == 0
    assert topic_size(api.settings) == 0


async def test_put_refuses_a_taken_email_and_bad_fields(api: Api) -> None:
    await api.put("ada", 201, email="ada@example.com")
    taken = await api.http.put("/api/users/bob", json={"email": "ada@example.com"})
    assert taken.status_code == 409 and "'ada'" in taken.json()["detail"]
    assert (await api.http.get("/api/users/bob")).status_code == 404  # nothing half-created
    await api.put("ada", email="ada@example.com")  # its own email is no conflict
    wrong = {"email": "nope", "stage": "Churned", "attributes": [], "colour": "red"}
    bad = await api.http.put("/api/users/bob", json=wrong)
    assert set(problem_paths(bad)) == {"/email", "/stage", "/attributes", "/colour"}
    too_long = await api.http.put(f"/api/users/{'x' * 256}", json={})
    assert problem_paths(too_long).keys() == {"path.user_id"}


async def test_put_with_a_stage_is_a_transition(api: Api) -> None:
    body = await api.put("ada", 201, stage="Revenue", reason="paid", attributes={"plan": "pro"})
    assert body["current_lifecycle_stage"] == "Revenue"
    with api.sessions() as session:
        [row] = session.exec(select(UserLifecycleHistory)).all()
    assert (row.from_stage, row.to_stage) == ("Acquisition", "Revenue")
    assert row.metadata_ is not None
    assert (row.metadata_["source"], row.metadata_["actor"], row.metadata_["reason"]) == (
        "api",
        "editor-1",
        "paid",
    )
    [(key, event)] = read_events(api.settings, 1)
    assert key == b"ada"
    assert (event["type"], event["properties"]["to_stage"]) == (
        "lifecycle.stage_changed",
        "Revenue",
    )


async def test_list_filters_by_stage_and_condition(api: Api) -> None:
    api.user("a", attributes={"plan": "pro", "seats": 5})
    api.user("b", attributes={"plan": "pro", "seats": 1}, current_lifecycle_stage="Revenue")
    api.user("c", attributes={"plan": "free"}, current_lifecycle_stage="Revenue")
    api.user("d", email="from an event")  # stored as it came: read back as it is

    async def ids(**params: Any) -> list[str]:
        answer = await api.http.get("/api/users", params=params)
        assert answer.status_code == 200, answer.text
        return sorted(item["id"] for item in answer.json()["items"])

    pro = json.dumps({"field": "user.attributes.plan", "op": "eq", "value": "pro"})
    assert await ids() == ["a", "b", "c", "d"]
    assert await ids(stage="Revenue") == ["b", "c"]
    assert await ids(condition=pro) == ["a", "b"]
    assert await ids(condition=pro, stage="Revenue") == ["b"]
    both = {
        "all": [
            {"field": "user.attributes.seats", "op": "gt", "value": 2},
            {"not": {"field": "user.email", "op": "exists"}},
        ]
    }
    assert await ids(condition=json.dumps(both)) == ["a"]

    page = await api.http.get("/api/users", params={"condition": pro, "limit": 1, "offset": 1})
    body = page.json()
    assert (body["total"], body["limit"], body["offset"], len(body["items"])) == (2, 1, 1, 1)
    first = (await api.http.get("/api/users", params={"condition": pro, "limit": 1})).json()
    assert {first["items"][0]["id"], body["items"][0]["id"]} == {"a", "b"}


@pytest.mark.parametrize(
    ("condition", "path"),
    [
        ("{not json", "query.condition"),
        ('{"field": "user.attributes.plan", "op": "like", "value": 1}', "query.condition/op"),
        ('{"all": [{"field": "event.type", "op": "exists"}]}', "query.condition/all/0/field"),
        (
            '{"not": {"field": "user.id", "op": "eq", "value": {"ref": "vars.x"}}}',
            "query.condition/not/value/ref",
        ),
    ],
)
async def test_a_bad_condition_is_a_422_naming_the_place(
    api: Api, condition: str, path: str
) -> None:
    answer = await api.http.get("/api/users", params={"condition": condition})
    assert path in problem_paths(answer), answer.text


async def test_roles(api: Api) -> None:
    api.user("ada")
    viewer, operator, editor = (api.headers(r) for r in (Role.viewer, Role.operator, Role.editor))
    assert (await api.http.get("/api/users/ada", headers=viewer)).status_code == 200
    assert (await api.http.get("/api/users/ada/history", headers=viewer)).status_code == 200
    assert (await api.http.put("/api/users/ada", json={}, headers=operator)).status_code == 403
    move = {"stage": "Activation"}
    url = "/api/users/ada/lifecycle/transition"
    assert (await api.http.post(url, json=move, headers=viewer)).status_code == 403
    assert (await api.http.post(url, json=move, headers=operator)).status_code == 200
    assert (await api.http.delete("/api/users/ada", headers=editor)).status_code == 403
    assert (
        await api.http.get("/api/users/ada", headers={"Authorization": "Bearer x"})
    ).status_code == 401
    for path in ("", "/lifecycle", "/history"):
        missing = await api.http.get(f"/api/users/nobody{path}", headers=viewer)
        assert missing.status_code == 404 and missing.headers["content-type"] == PROBLEM_JSON


def seed_everything(api: Api, user_id: str, execution_id: str) -> None:
    """A row in every table that refers to the user or their run."""
    with api.sessions() as session:
        run = session.get(WorkflowExecution, uuid.UUID(execution_id))
        assert run is not None
        trigger = Trigger(name="t", event_type="signup", conditions={}, workflow_id=run.workflow_id)
        segment = UserSegment(name="s", conditions={})
        session.add_all([trigger, segment])
        session.flush()
        session.add_all(
            [
                TriggerExecution(
                    trigger_id=trigger.id,
                    user_id=user_id,
                    condition_met=True,
                    workflow_execution_id=run.id,
                    event_id="e1",
                ),
                LifecycleEvent(event_type="signup", user_id=user_id, event_id="e1"),
                LifecycleEvent(event_type="journey.note", workflow_execution_id=run.id),
                UserSegmentMembership(user_id=user_id, segment_id=segment.id),
                Delivery(key="k1", kind="email", outcome="delivered", user_id=user_id),
                # A run the mirror thinks is open but Temporal never heard of.
                WorkflowExecution(
                    workflow_id=run.workflow_id,
                    workflow_version="1",
                    user_id=user_id,
                    temporal_workflow_id=f"ghost-{uuid.uuid4().hex}",
                    status="running",
                ),
            ]
        )
        session.commit()


async def test_erasure_cancels_runs_and_deletes_everything(
    api: Api, journey_env: JourneyEnv
) -> None:
    admin = api.headers(Role.admin)
    api.user("ada", email="ada@example.com")
    api.user("bob")
    journey_id = api.journey()
    async with journey_worker(journey_env.temporal_client, api.settings, api.sessions):
        started = await api.http.post(
            f"/api/workflows/{journey_id}/start", json={"user_id": "ada"}, headers=admin
        )
        assert started.status_code == 201, started.text
        execution = started.json()
        moved = await api.http.post(
            "/api/users/ada/lifecycle/transition", json={"stage": "Activation"}, headers=admin
        )
        assert moved.status_code == 200, moved.text
        seed_everything(api, "ada", execution["id"])
        await api.put("bob", stage="Retention")  # someone else's rows stay

        erased = await api.http.delete("/api/users/ada", headers=admin)
        assert erased.status_code == 200, erased.text
        handle = journey_env.temporal_client.get_workflow_handle(execution["temporal_workflow_id"])
        with pytest.raises(WorkflowFailureError):
            await handle.result()  # cancelled
    body = erased.json()
    assert (body["user_id"], body["cancelled_runs"]) == ("ada", 1)
    assert body["deleted"] == {
        "trigger_executions": 1,
        "lifecycle_events": 3,
        "lifecycle_history": 1,
        "segment_memberships": 1,
        "deliveries": 1,
        "executions": 2,
        "profile": 1,
    }
    for model in (User, UserLifecycleHistory, LifecycleEvent, WorkflowExecution):
        assert api.count(model) == (1 if model is not WorkflowExecution else 0), model
    assert api.count(TriggerExecution) == api.count(UserSegmentMembership) == 0
    assert api.count(Delivery) == 0
    # The cancelled run found no profile to mirror its end into, and made none.
    assert api.count(User, User.id == "ada") == 0
    assert (await api.http.get("/api/users/ada")).status_code == 404
    assert (await api.http.delete("/api/users/ada", headers=admin)).status_code == 404


async def test_erasure_erases_nothing_while_temporal_is_away(
    api: Api, api_client_for: ApiClientFactory
) -> None:
    api.user("ada")
    journey_id = api.journey()
    with api.sessions() as session:
        session.add(
            WorkflowExecution(
                workflow_id=uuid.UUID(journey_id),
                workflow_version="1",
                user_id="ada",
                temporal_workflow_id="w-1",
                status="running",
            )
        )
        session.commit()
    away = api.settings.model_copy(update={"temporal_address": "127.0.0.1:9"})
    async with api_client_for(away) as http:
        answer = await http.delete("/api/users/ada", headers=api.headers(Role.admin))
    assert answer.status_code == 503, answer.text
    assert answer.headers["content-type"] == PROBLEM_JSON
    assert api.count(User) == api.count(WorkflowExecution) == 1

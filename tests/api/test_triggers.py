"""`/api/triggers` over HTTP on both databases: CRUD, filters, 422 paths, roles, the decision
log, and dry runs that write nothing (Temporal and Kafka point nowhere)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, select

from api.auth import Role
from journey.contracts.ids import trigger_workflow_id
from journey.core.config import Settings
from journey.core.db.models import AuditEntry, LifecycleEvent, Trigger, TriggerExecution, User
from journey.core.db.models import WorkflowExecution as Run
from tests.api.conftest import ApiClientFactory
from tests.api.test_workflows import PROBLEM_JSON, auth, journey, settings_for

CART = {
    "name": "Abandoned cart",
    "description": "big carts, daily",
    "event_type": "cart.*",
    "conditions": {
        "all": [
            {"field": "event.properties.total", "op": "gt", "value": 20},
            {"field": "user.attributes.plan", "op": "eq", "value": "pro"},
        ]
    },
    "dedupe_key": "event.properties.cart_id",
    "reentry": "once_per",
    "reentry_period": "P1D",
}
EVENT = {
    "id": "evt-1",
    "type": "cart.abandoned",
    "user_id": "ada",
    "properties": {"cart_id": "c-9", "total": 35},
}


@dataclass
class Api:
    http: httpx.AsyncClient
    settings: Settings
    sessions: sessionmaker[Session]

    async def journey(self, name: str = "J", *, status: str = "active", **changes: Any) -> str:
        made = await self.http.post("/api/workflows", json={"definition": journey(name, **changes)})
        assert made.status_code == 201, made.text
        if status != "draft":
            moved = await self.http.post(
                f"/api/workflows/{made.json()['id']}/status", json={"status": status}
            )
            assert moved.status_code == 200, moved.text
        return str(made.json()["id"])

    async def trigger(self, journey_id: str, **fields: Any) -> dict[str, Any]:
        body = {**CART, "journey_id": journey_id, **fields}
        made = await self.http.post("/api/triggers", json=body)
        assert made.status_code == 201, made.text
        return dict(made.json())

    async def dry_run(self, trigger_id: str, **body: Any) -> dict[str, Any]:
        answer = await self.http.post(f"/api/triggers/{trigger_id}/test", json=body)
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    def user(self, user_id: str, **attributes: Any) -> None:
        with self.sessions() as session:
            session.add(User(id=user_id, email=f"{user_id}@example.com", attributes=attributes))
            session.commit()

    def count(self, model: Any) -> int:
        with self.sessions() as session:
            return int(session.exec(select(func.count()).select_from(model)).one())


@pytest.fixture
async def api(
    migrated_engine: Engine,
    migrated_database_url: str,
    tmp_path: Path,
    api_client_for: ApiClientFactory,
) -> AsyncIterator[Api]:
    settings = settings_for(migrated_database_url, tmp_path)
    async with api_client_for(settings) as client:
        client.headers.update(auth(settings, Role.editor))
        yield Api(client, settings, sessionmaker(migrated_engine, class_=Session))


def errors(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    return {error["path"]: error["message"] for error in response.json()["errors"]}


async def test_create_read_replace_round_trip(api: Api) -> None:
    journey_id = await api.journey()
    created = await api.trigger(journey_id)
    assert {key: created[key] for key in CART} == CART  # reentry_period "P1D", conditions as sent
    assert (created["journey_id"], created["enabled"], created["user_id_path"]) == (
        journey_id,
        True,
        "event.user_id",
    )
    assert created["create_profile"] is False
    assert created["created_at"] and created["updated_at"]
    url = f"/api/triggers/{created['id']}"
    assert (await api.http.get(url)).json() == created

    other = await api.journey("Other", status="draft")
    replacement = {
        "name": "Renamed",
        "journey_id": other,
        "event_type": "signup",
        "reentry": "once",
        "enabled": False,
        "conditions": {"field": "event.properties.plan", "op": "exists"},
    }
    replaced = await api.http.put(url, json=replacement)
    assert replaced.status_code == 200, replaced.text
    body = replaced.json()
    assert (body["id"], body["created_at"]) == (created["id"], created["created_at"])
    assert {key: body[key] for key in replacement} == replacement
    # A full replace: what the body omits goes back to its default.
    assert (body["description"], body["dedupe_key"], body["reentry_period"]) == (
        None,
        "event.id",
        None,
    )
    assert (await api.http.get(url)).json() == body
    periodic = {**replacement, "reentry": "once_per", "reentry_period": 5400}
    assert (await api.http.put(url, json=periodic)).json()["reentry_period"] == "PT1H30M"
    assert (await api.http.get(url)).json()["conditions"] == replacement["conditions"]


async def test_list_filters_and_paginates(api: Api) -> None:
    first, second = await api.journey("A"), await api.journey("B")
    await api.trigger(first, name="one", event_type="signup")
    await api.trigger(first, name="two", event_type="cart.*", enabled=False)
    await api.trigger(second, name="three", event_type="signup")

    async def names(**params: Any) -> list[str]:
        response = await api.http.get("/api/triggers", params=params)
        assert response.status_code == 200, response.text
        return sorted(item["name"] for item in response.json()["items"])

    assert await names() == ["one", "three", "two"]
    assert await names(journey_id=first) == ["one", "two"]
    assert await names(event_type="signup") == ["one", "three"]
    assert await names(event_type="cart.*") == ["two"]
    assert await names(event_type="cart.abandoned") == []
    assert await names(enabled="false") == ["two"]
    assert await names(enabled="true", journey_id=first) == ["one"]

    page = (await api.http.get("/api/triggers", params={"limit": 2, "offset": 2})).json()
    assert (page["total"], page["limit"], page["offset"], len(page["items"])) == (3, 2, 2, 1)
    newest = (await api.http.get("/api/triggers")).json()
    assert ([i["name"] for i in newest["items"]], newest["limit"]) == (["three", "two", "one"], 50)
    for bad in ({"limit": 0}, {"limit": 201}, {"offset": -1}, {"journey_id": "x"}):
        assert list(errors(await api.http.get("/api/triggers", params=bad))) == [
            f"query.{next(iter(bad))}"
        ]


async def test_unknown_ids_are_404_and_unusable_rows_409(api: Api) -> None:
    journey_id = await api.journey()
    with api.sessions() as session:  # a row written outside the API, e.g. by an old seed
        session.add(old := Trigger(name="old", event_type="x", conditions={"bogus": 1}))
        session.commit()
        broken = await api.http.post(f"/api/triggers/{old.id}/test", json={"event": EVENT})
    assert (broken.status_code, broken.headers["content-type"]) == (409, PROBLEM_JSON)
    for trigger_id in (str(uuid.uuid4()), "not-a-uuid"):
        url = f"/api/triggers/{trigger_id}"
        for response in (
            await api.http.get(url),
            await api.http.put(url, json={**CART, "journey_id": journey_id}),
            await api.http.delete(url),
            await api.http.get(f"{url}/executions"),
            await api.http.post(f"{url}/test", json={"event": EVENT}),
        ):
            assert response.status_code == 404, response.text
            assert response.headers["content-type"] == PROBLEM_JSON
            assert trigger_id in response.json()["detail"]


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"reentry_period": None}, {"/reentry_period": "needs a reentry_period"}),
        ({"reentry": "once"}, {"/reentry_period": "only applies to reentry 'once_per'"}),
        ({"reentry_period": "P400D"}, {"/reentry_period": "longer than 366 days"}),
        (
            {"conditions": {"all": [{"field": "event.x", "op": "near", "value": 1}]}},
            {"/conditions/all/0/op": "Input should be"},
        ),
        (
            {"conditions": {"not": {"any": [{"field": "user.x", "op": "in", "value": 3}]}}},
            {"/conditions/not/any/0": "needs a list value"},
        ),
        ({"conditions": {"field": "plan", "op": "exists"}}, {"/conditions/field": "must start"}),
        (
            {"dedupe_key": "user.id", "user_id_path": "event"},
            {"/dedupe_key": "must be a field of the event", "/user_id_path": "must be a field"},
        ),
        ({"event_type": "cart*s", "name": ""}, {"/event_type": "pattern", "/name": "at least"}),
        ({"journey_id": str(uuid.uuid4())}, {"/journey_id": "no journey with id"}),
        ({"journey_id": "nope", "surprise": 1}, {"/journey_id": "UUID", "/surprise": "Extra"}),
        ({"event_type": None}, {"/event_type": "Field required"}),
    ],
)
async def test_invalid_bodies_name_each_field(
    api: Api, changes: dict[str, Any], expected: dict[str, str]
) -> None:
    journey_id = await api.journey()
    body = {
        key: value
        for key, value in {**CART, "journey_id": journey_id, **changes}.items()
        if value is not None
    }
    existing = await api.trigger(journey_id)
    for response in (
        await api.http.post("/api/triggers", json=body),
        await api.http.put(f"/api/triggers/{existing['id']}", json=body),
    ):
        found = errors(response)
        assert set(found) == set(expected), found
        for path, fragment in expected.items():
            assert fragment in found[path], found
    assert (await api.http.get("/api/triggers")).json()["total"] == 1
    assert (await api.http.get(f"/api/triggers/{existing['id']}")).json() == existing


async def test_roles(api: Api) -> None:
    created = await api.trigger(await api.journey())
    url = f"/api/triggers/{created['id']}"
    body = {**CART, "journey_id": created["journey_id"]}
    assert (await api.http.get("/api/triggers", headers={"Authorization": ""})).status_code == 401
    viewer, operator = auth(api.settings, Role.viewer), auth(api.settings, Role.operator)
    for reading in ("/api/triggers", url, f"{url}/executions"):
        assert (await api.http.get(reading, headers=viewer)).status_code == 200
    for headers in (viewer, operator):
        for denied in (
            await api.http.post("/api/triggers", json=body, headers=headers),
            await api.http.put(url, json=body, headers=headers),
            await api.http.delete(url, headers=headers),
        ):
            assert denied.status_code == 403
            assert denied.json()["type"] == "https://journey.dev/problems/forbidden"
    test = f"{url}/test"
    assert (await api.http.post(test, json={"event": EVENT}, headers=viewer)).status_code == 403
    assert (await api.http.post(test, json={"event": EVENT}, headers=operator)).status_code == 200
    assert (await api.http.get("/api/triggers")).json()["total"] == 1


def log_decisions(api: Api, trigger_id: str, count: int) -> None:
    start = datetime(2026, 11, 22, 10, tzinfo=UTC)
    with api.sessions() as session:
        for n in range(count):
            session.add(
                TriggerExecution(
                    trigger_id=uuid.UUID(trigger_id),
                    user_id="ada",
                    condition_met=n % 2 == 0,
                    event_id=f"evt-{n}",
                    decision="started" if n % 2 == 0 else "skipped",
                    reason=None if n % 2 == 0 else "conditions failed",
                    temporal_workflow_id=f"trigger-{trigger_id}-ada-evt-{n}",
                    executed_at=start + timedelta(minutes=n),
                )
            )
        session.commit()


async def test_decisions_are_listed_and_deleted_with_the_trigger(api: Api) -> None:
    journey_id = await api.journey()
    doomed, kept = await api.trigger(journey_id), await api.trigger(journey_id, name="kept")
    api.user("ada")
    log_decisions(api, doomed["id"], 3)
    log_decisions(api, kept["id"], 2)
    url = f"/api/triggers/{doomed['id']}"
    page = (await api.http.get(f"{url}/executions", params={"limit": 2})).json()
    assert (page["total"], page["limit"], page["offset"]) == (3, 2, 0)
    assert [item["event_id"] for item in page["items"]] == ["evt-2", "evt-1"]
    first = page["items"][1]
    assert (first["decision"], first["reason"], first["user_id"]) == (
        "skipped",
        "conditions failed",
        "ada",
    )
    assert first["temporal_workflow_id"] == f"trigger-{doomed['id']}-ada-evt-1"
    assert first["workflow_execution_id"] is None
    assert first["executed_at"].startswith("2026-11-22T10:01:00")
    rest = (await api.http.get(f"{url}/executions", params={"offset": 2})).json()
    assert [item["event_id"] for item in rest["items"]] == ["evt-0"]

    deleted = await api.http.delete(url)
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert (await api.http.get(url)).status_code == 404
    assert (await api.http.delete(url)).status_code == 404
    with api.sessions() as session:
        left = session.exec(select(TriggerExecution.trigger_id)).all()
    assert [str(trigger_id) for trigger_id in left] == [kept["id"]] * 2
    assert (await api.http.get("/api/triggers")).json()["total"] == 1


async def test_every_write_is_audited(api: Api) -> None:
    created = await api.trigger(await api.journey())
    url = f"/api/triggers/{created['id']}"
    await api.http.put(url, json={**CART, "journey_id": created["journey_id"], "name": "x"})
    await api.http.delete(url)
    with api.sessions() as session:
        rows = session.exec(select(AuditEntry).where(AuditEntry.resource_type == "triggers")).all()
    assert sorted((row.action, row.resource_id, row.status_code, row.actor) for row in rows) == [
        ("DELETE /api/triggers/{trigger_id}", created["id"], 204, "alice"),
        ("POST /api/triggers", None, 201, "alice"),
        ("PUT /api/triggers/{trigger_id}", created["id"], 200, "alice"),
    ]


async def test_a_match_judged_with_the_stored_profile(api: Api) -> None:
    created = await api.trigger(await api.journey())
    api.user("ada", plan="pro")
    result = await api.dry_run(created["id"], event=EVENT)
    assert result == {
        "matched": True,
        "reasons": [],
        "failed_conditions": [],
        "user_id": "ada",
        "dedupe_value": "c-9",
        "journey_id": created["journey_id"],
        "reentry": "once_per",
        "workflow_id": trigger_workflow_id(created["id"], "ada", "c-9", once=False),
        "user_known": True,
        "would_start": True,
        "notes": [],
    }
    # A given profile replaces the stored one in the conditions; the user is still known.
    given = await api.dry_run(created["id"], event=EVENT, user={"attributes": {"plan": "free"}})
    assert (given["matched"], given["would_start"], given["user_known"]) == (False, False, True)
    assert [(f["path"], f["field"], f["op"]) for f in given["failed_conditions"]] == [
        ("/all/1", "user.attributes.plan", "eq")
    ]
    assert given["reasons"] == [
        f"condition /all/1 failed: {given['failed_conditions'][0]['reason']}"
    ]
    assert given["notes"] == []


async def test_a_non_match_names_the_failed_condition(api: Api) -> None:
    created = await api.trigger(await api.journey())
    api.user("ada", plan="free")
    small = {**EVENT, "properties": {"cart_id": "c-9", "total": 5}}
    result = await api.dry_run(created["id"], event=small)
    assert (result["matched"], result["would_start"]) == (False, False)
    assert [f["path"] for f in result["failed_conditions"]] == ["/all/0", "/all/1"]
    assert "event.properties.total is 5" in result["failed_conditions"][0]["reason"]
    other = await api.dry_run(created["id"], event={**EVENT, "type": "signup"})
    assert other["reasons"] == ["event type 'signup' does not match 'cart.*'"]
    assert other["failed_conditions"] == []


async def test_why_a_match_would_not_start(api: Api) -> None:
    draft = await api.journey(status="draft")
    plain = {"conditions": None, "reentry": "always", "reentry_period": None}
    stopped = await api.trigger(draft, enabled=False, **plain)
    ghost = {**EVENT, "user_id": "ghost"}
    result = await api.dry_run(stopped["id"], event=ghost)
    assert (result["matched"], result["would_start"], result["user_known"]) == (True, False, False)
    assert result["notes"] == [
        "the trigger is disabled",
        "the journey is draft; only active journeys start",
        "user 'ghost' has no profile, and neither the trigger (create_profile) nor the journey "
        "(create_missing_profile) creates one",
    ]
    active = await api.journey()
    strict = await api.trigger(active, **plain)
    assert (await api.dry_run(strict["id"], event=ghost))["notes"][0].startswith("user 'ghost'")
    creating = await api.trigger(active, create_profile=True, **plain)
    assert (await api.dry_run(creating["id"], event=ghost))["would_start"] is True
    lenient = await api.trigger(await api.journey("L", create_missing_profile=True), **plain)
    assert (await api.dry_run(lenient["id"], event=ghost))["would_start"] is True


async def test_workflow_ids_follow_the_reentry_policy(api: Api) -> None:
    journey_id = await api.journey()
    once = await api.trigger(journey_id, conditions=None, reentry="once", reentry_period=None)
    event = {"type": "cart.abandoned", "user_id": "ada", "properties": {"cart_id": 7}}
    result = await api.dry_run(once["id"], event=event)
    assert result["workflow_id"] == trigger_workflow_id(once["id"], "ada", "7", once=True)
    assert result["workflow_id"] == f"trigger-{once['id']}-ada"
    assert (result["reentry"], result["dedupe_value"]) == ("once", "7")
    by_event = await api.trigger(
        journey_id, conditions=None, dedupe_key="event.id", reentry="always", reentry_period=None
    )
    generated = await api.dry_run(by_event["id"], event=event)  # the id is filled in
    uuid.UUID(generated["dedupe_value"])
    assert generated["workflow_id"] == trigger_workflow_id(
        by_event["id"], "ada", generated["dedupe_value"], once=False
    )
    no_cart = await api.dry_run(once["id"], event={**event, "properties": {}})
    assert (no_cart["matched"], no_cart["workflow_id"]) == (False, None)
    assert no_cart["reasons"] == ["no dedupe key at event.properties.cart_id"]


async def test_invalid_events_name_each_field(api: Api) -> None:
    created = await api.trigger(await api.journey())
    url = f"/api/triggers/{created['id']}/test"
    bad = {"event": {"type": "cart abandoned", "extra": 1}, "user": [1]}
    assert set(errors(await api.http.post(url, json=bad))) == {
        "/event/type",
        "/event/user_id",
        "/event/extra",
        "/user",
    }
    assert set(errors(await api.http.post(url, json={"user": {}}))) == {"/event"}


async def test_a_dry_run_changes_nothing(api: Api) -> None:
    journey_id = await api.journey("Lenient", create_missing_profile=True)
    # Judged with the profile a create_profile trigger makes first (its email if still free).
    new = {
        "all": [
            {"field": "user.current_lifecycle_stage", "op": "eq", "value": "Acquisition"},
            {"field": "user.email", "op": "eq", "value": "g@example.com"},
        ]
    }
    creating = await api.trigger(journey_id, create_profile=True, conditions=new)
    logged = await api.trigger(journey_id)
    api.user("ada", plan="pro")
    log_decisions(api, logged["id"], 1)
    tables = (User, TriggerExecution, LifecycleEvent, Run, AuditEntry)
    before = [api.count(table) for table in tables]
    ghost = {**EVENT, "user_id": "ghost", "properties": {"cart_id": "c", "email": "g@example.com"}}
    assert (await api.dry_run(creating["id"], event=ghost))["would_start"] is True
    taken = {**ghost, "properties": {"cart_id": "c", "email": "ada@example.com"}}
    failed = (await api.dry_run(creating["id"], event=taken))["failed_conditions"]
    assert [f["path"] for f in failed] == ["/all/1"]
    assert (await api.dry_run(creating["id"], event=EVENT))["matched"] is False
    assert (await api.dry_run(logged["id"], event=EVENT))["would_start"] is True
    assert (await api.dry_run(logged["id"], event=ghost))["matched"] is False
    assert (await api.dry_run(logged["id"], event=EVENT, user={}))["matched"] is False
    after = [api.count(table) for table in tables]
    assert after == [*before[:4], before[4] + 6]  # the audit log has a row per POST, as always
    assert before[:4] == [1, 1, 0, 0]
    with api.sessions() as session:
        assert (ada := session.get(User, "ada")) and ada.attributes == {"plan": "pro"}
        assert session.get(User, "ghost") is None


async def test_a_stage_limited_journey_is_noted_for_users_outside_its_stages(api: Api) -> None:
    journey_id = await api.journey(
        "Limited", lifecycle_stages=["Retention"], restrict_to_stages=True
    )
    created = await api.trigger(journey_id, conditions=None)
    api.user("ada", plan="pro")  # a new profile is in Acquisition
    outside = await api.dry_run(created["id"], event=EVENT)
    assert (outside["matched"], outside["would_start"]) == (True, False)
    assert outside["notes"] == ["user stage Acquisition not in the journey's stages [Retention]"]
    with api.sessions() as session:
        ada = session.get(User, "ada")
        assert ada is not None
        ada.current_lifecycle_stage = "Retention"
        session.add(ada)
        session.commit()
    assert (await api.dry_run(created["id"], event=EVENT))["would_start"] is True

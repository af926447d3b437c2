"""`/api/segments` over HTTP on both databases: CRUD, 422 paths, roles, evaluation (counts and
samples from SQL, one user explained), members, overlaps and the cache summary."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

import journey.services.segments.profile
from api.auth import Role
from journey.core.config import Settings
from journey.core.db.models import User, UserSegment, UserSegmentMembership
from tests.api.conftest import ApiClientFactory
from tests.api.test_workflows import PROBLEM_JSON, auth, settings_for

PRO = {"field": "user.attributes.plan", "op": "eq", "value": "pro"}
SEGMENT = {
    "name": "Pro users",
    "description": "on the pro plan",
    "conditions": {"all": [PRO, {"field": "user.attributes.seats", "op": "gte", "value": 2}]},
    "lifecycle_stages": ["Activation", "Retention"],
}


@dataclass
class Api:
    http: httpx.AsyncClient
    settings: Settings
    sessions: sessionmaker[Session]

    async def segment(self, **fields: Any) -> dict[str, Any]:
        made = await self.http.post("/api/segments", json={**SEGMENT, **fields})
        assert made.status_code == 201, made.text
        return dict(made.json())

    def user(self, user_id: str, stage: str = "Activation", **attributes: Any) -> None:
        with self.sessions() as session:
            session.add(
                User(
                    id=user_id,
                    email=f"{user_id}@example.com",
                    current_lifecycle_stage=stage,
                    attributes=attributes,
                )
            )
            session.commit()

    def as_role(self, role: Role) -> dict[str, str]:
        return auth(self.settings, role, subject=f"{role.name}-user")


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


async def test_create_read_replace_delete(api: Api) -> None:
    created = await api.segment()
    assert {key: created[key] for key in SEGMENT} == SEGMENT
    assert (created["cached_members"], created["cached_until"]) == (0, None)
    url = f"/api/segments/{created['id']}"
    assert (await api.http.get(url)).json() == created

    replacement = {"name": "Everyone"}
    replaced = await api.http.put(url, json=replacement)
    assert replaced.status_code == 200, replaced.text
    body = replaced.json()
    assert (body["id"], body["created_at"]) == (created["id"], created["created_at"])
    # A full replace: omitted fields go back to their defaults (null conditions: every user).
    assert (body["name"], body["description"], body["conditions"], body["lifecycle_stages"]) == (
        "Everyone",
        None,
        None,
        [],
    )
    assert (await api.http.get(url)).json() == body

    assert (await api.http.delete(url)).status_code == 204
    gone = await api.http.get(url)
    assert (gone.status_code, gone.headers["content-type"]) == (404, PROBLEM_JSON)
    assert (await api.http.get("/api/segments/not-a-uuid")).status_code == 404


async def test_list_is_paginated_by_name(api: Api) -> None:
    for name in ("c", "a", "b"):
        await api.segment(name=name)
    page = (await api.http.get("/api/segments", params={"limit": 2, "offset": 1})).json()
    assert [item["name"] for item in page["items"]] == ["b", "c"]
    assert (page["total"], page["limit"], page["offset"]) == (3, 2, 1)


async def test_invalid_definitions_name_every_field_at_fault(api: Api) -> None:
    body = {
        "name": "bad",
        "conditions": {
            "all": [
                PRO,
                {"field": "event.properties.plan", "op": "eq", "value": "pro"},
                {"field": "user.updated_at", "op": "exists"},
                {
                    "any": [
                        {"field": "user.email", "op": "eq", "value": {"ref": "vars.entry.email"}}
                    ]
                },
                {"field": "user.attributes.name", "op": "eq", "value": "nul\u0000"},
                {"field": "user.attributes.big", "op": "in", "value": [1, 2**70]},
            ]
        },
        "lifecycle_stages": ["Activation"],
    }
    found = errors(await api.http.post("/api/segments", json=body))
    assert set(found) == {
        "/conditions/all/1/field",
        "/conditions/all/2/field",
        "/conditions/all/3/any/0/value/ref",
        "/conditions/all/4/value",
        "/conditions/all/5/value/1",
    }
    assert "segments cannot read 'event.properties.plan'" in found["/conditions/all/1/field"]
    # Schema errors of the condition language and the stages, with their paths too.
    schema = {
        "name": "bad",
        "conditions": {"all": [{"field": "user.id", "op": "near"}]},
        "lifecycle_stages": ["Nowhere"],
    }
    assert {"/conditions/all/0/op", "/lifecycle_stages/0"} <= set(
        errors(await api.http.post("/api/segments", json=schema))
    )
    created = await api.segment()
    assert "/conditions/field" in errors(
        await api.http.put(
            f"/api/segments/{created['id']}",
            json={"name": "x", "conditions": {"field": "vars.x", "op": "exists"}},
        )
    )


async def test_roles(api: Api) -> None:
    created = await api.segment()
    viewer = api.as_role(Role.viewer)
    assert (await api.http.post("/api/segments", json=SEGMENT, headers=viewer)).status_code == 403
    url = f"/api/segments/{created['id']}"
    assert (await api.http.put(url, json=SEGMENT, headers=viewer)).status_code == 403
    assert (await api.http.delete(url, headers=viewer)).status_code == 403
    for path in (url, f"{url}/users", f"{url}/overlap/{created['id']}", "/api/segments"):
        assert (await api.http.get(path, headers=viewer)).status_code == 200, path
    answer = await api.http.post("/api/segments/evaluate", json={}, headers=viewer)
    assert answer.status_code == 200
    anonymous = {"Authorization": "Bearer not-a-token"}
    assert (await api.http.get("/api/segments", headers=anonymous)).status_code == 401


def seed(api: Api) -> None:
    api.user("ann", plan="pro", seats=5)
    api.user("bob", plan="pro", seats=1)
    api.user("cat", stage="Acquisition", plan="pro", seats=3)
    api.user("dan", plan="free", seats=9)
    api.user("eve", stage="Retention", plan="pro", seats=2)


async def test_evaluate_counts_and_samples_by_sql(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(api)

    def no_python(*_args: Any, **_kwargs: Any) -> bool:
        raise AssertionError("counts and samples must come from SQL")

    monkeypatch.setattr(journey.services.segments.profile, "evaluate", no_python)
    definition = {key: SEGMENT[key] for key in ("conditions", "lifecycle_stages")}
    answer = await api.http.post("/api/segments/evaluate", params={"limit": 1}, json=definition)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["count"], [user["id"] for user in body["sample"]]) == (2, ["ann"])
    assert body["sample"][0] == {
        "id": "ann",
        "email": "ann@example.com",
        "current_lifecycle_stage": "Activation",
        "created_at": body["sample"][0]["created_at"],
        "attributes": {"plan": "pro", "seats": 5},
    }
    assert body["member"] is None and body["failed_conditions"] is None

    stored = await api.segment()
    by_id = await api.http.post("/api/segments/evaluate", json={"segment_id": stored["id"]})
    assert [user["id"] for user in by_id.json()["sample"]] == ["ann", "eve"]
    everyone = (await api.http.post("/api/segments/evaluate", json={})).json()
    assert everyone["count"] == 5


async def test_evaluate_one_user_explains_a_no(api: Api) -> None:
    seed(api)
    stored = await api.segment()

    async def judge(user_id: str, **body: Any) -> dict[str, Any]:
        body = body or {"segment_id": stored["id"]}
        answer = await api.http.post("/api/segments/evaluate", json={**body, "user_id": user_id})
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    ann = await judge("ann")
    assert (ann["user_id"], ann["member"], ann["failed_conditions"], ann["count"]) == (
        "ann",
        True,
        [],
        None,
    )
    bob = await judge("bob")
    assert bob["member"] is False
    assert [(f["path"], f["field"], f["op"]) for f in bob["failed_conditions"]] == [
        ("/conditions/all/1", "user.attributes.seats", "gte")
    ]
    cat = await judge("cat")
    assert [f["path"] for f in cat["failed_conditions"]] == ["/lifecycle_stages"]
    adhoc = await judge("dan", conditions=PRO)
    assert [f["path"] for f in adhoc["failed_conditions"]] == ["/conditions"]

    missing = await api.http.post("/api/segments/evaluate", json={"user_id": "nobody"})
    assert (missing.status_code, missing.headers["content-type"]) == (404, PROBLEM_JSON)


async def test_evaluate_refuses_ambiguous_or_unknown_definitions(api: Api) -> None:
    stored = await api.segment()
    both = {"segment_id": stored["id"], "conditions": PRO}
    assert "/segment_id" in errors(await api.http.post("/api/segments/evaluate", json=both))
    unknown = {"segment_id": "00000000-0000-0000-0000-000000000000"}
    assert "/segment_id" in errors(await api.http.post("/api/segments/evaluate", json=unknown))
    bad = {"conditions": {"field": "event.type", "op": "exists"}}
    assert "/conditions/field" in errors(await api.http.post("/api/segments/evaluate", json=bad))


async def test_members_are_paginated_by_user_id(api: Api) -> None:
    seed(api)
    stored = await api.segment(lifecycle_stages=[])
    url = f"/api/segments/{stored['id']}/users"
    page = (await api.http.get(url, params={"limit": 2, "offset": 1})).json()
    assert [user["id"] for user in page["items"]] == ["cat", "eve"]
    assert (page["total"], page["limit"], page["offset"]) == (3, 2, 1)


async def test_overlap_counts_each_and_both(api: Api) -> None:
    seed(api)
    pro = await api.segment(lifecycle_stages=[])  # ann, cat, eve
    big = await api.segment(
        name="Big",
        lifecycle_stages=[],
        conditions={"field": "user.attributes.seats", "op": "gte", "value": 3},
    )  # ann, cat, dan
    answer = await api.http.get(f"/api/segments/{pro['id']}/overlap/{big['id']}")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["segment_id"], body["other_segment_id"]) == (pro["id"], big["id"])
    assert (body["count"], body["other_count"], body["both"]) == (3, 3, 2)
    assert body["share"] == pytest.approx(2 / 3) and body["other_share"] == pytest.approx(2 / 3)
    nobody = await api.segment(name="Nobody", conditions={"field": "user.id", "op": "not_exists"})
    empty = (await api.http.get(f"/api/segments/{nobody['id']}/overlap/{pro['id']}")).json()
    assert (empty["count"], empty["both"], empty["share"], empty["other_share"]) == (
        0,
        0,
        None,
        0.0,
    )
    unknown = f"/api/segments/{pro['id']}/overlap/00000000-0000-0000-0000-000000000000"
    assert (await api.http.get(unknown)).status_code == 404


async def test_cache_summary_counts_rows_still_valid(api: Api) -> None:
    seed(api)
    stored = await api.segment()
    now = datetime.now(UTC)
    with api.sessions() as session:
        for user_id, until in (("ann", now + timedelta(hours=1)), ("eve", now - timedelta(1))):
            session.add(
                UserSegmentMembership(
                    user_id=user_id,
                    segment_id=uuid.UUID(stored["id"]),
                    evaluated_at=now,
                    valid_until=until,
                )
            )
        session.commit()
    body = (await api.http.get(f"/api/segments/{stored['id']}")).json()
    assert body["cached_members"] == 1
    assert datetime.fromisoformat(body["cached_until"]) == now + timedelta(hours=1)
    assert (await api.http.delete(f"/api/segments/{stored['id']}")).status_code == 204


async def test_a_stored_definition_that_no_longer_validates_is_a_conflict(api: Api) -> None:
    with api.sessions() as session:
        row = UserSegment(name="legacy", conditions={"field": "event.type", "op": "exists"})
        session.add(row)
        session.commit()
        segment_id = row.id
    assert (await api.http.get(f"/api/segments/{segment_id}")).status_code == 200
    members = await api.http.get(f"/api/segments/{segment_id}/users")
    assert (members.status_code, members.headers["content-type"]) == (409, PROBLEM_JSON)
    assert "replace them" in members.json()["detail"]
    judged = await api.http.post("/api/segments/evaluate", json={"segment_id": str(segment_id)})
    assert judged.status_code == 409

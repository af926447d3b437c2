"""`/api/workflows` through HTTP: create, read, list, versions, status changes and archiving.

Runs on both databases (the `migrated_database_url` fixture); the Temporal and Kafka addresses
point nowhere, because definitions never touch them (the client is lazy).
"""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.auth import Role, create_token
from journey.core.config import Settings
from tests.api.conftest import ApiClientFactory
from tests.harness.env import build_settings

EXAMPLE = json.loads(
    (Path(__file__).resolve().parents[2] / "examples" / "onboarding_activation.json").read_text()
)
PROBLEM_JSON = "application/problem+json"


def settings_for(database_url: str, data_dir: Path, **overrides: Any) -> Settings:
    """Settings with auth on; the servers the definitions API never calls point at port 9."""
    return build_settings(
        data_dir=data_dir,
        temporal_address="127.0.0.1:9",
        task_queue="unused",
        kafka_bootstrap="127.0.0.1:9",
        smtp_host="127.0.0.1",
        smtp_port=9,
        database_url=database_url,
        jwt_secret="test-secret-that-is-long-enough-for-hs256",
        **overrides,
    )


def auth(settings: Settings, role: Role, subject: str = "alice") -> dict[str, str]:
    return {"Authorization": f"Bearer {create_token(settings, subject=subject, role=role)}"}


def journey(name: str, **changes: Any) -> dict[str, Any]:
    document = copy.deepcopy(EXAMPLE)
    document.update(name=name, **changes)
    return document


@pytest.fixture
def settings(migrated_database_url: str, tmp_path: Path) -> Settings:
    return settings_for(migrated_database_url, tmp_path)


@pytest.fixture
async def editor(
    settings: Settings, api_client_for: ApiClientFactory
) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client_for(settings) as client:
        client.headers.update(auth(settings, Role.editor))
        yield client


async def create(api: httpx.AsyncClient, name: str, **changes: Any) -> dict[str, Any]:
    response = await api.post("/api/workflows", json={"definition": journey(name, **changes)})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_create_then_get(editor: httpx.AsyncClient) -> None:
    created = await create(editor, "Onboarding")
    assert created["version"] == "1.0.0"
    assert created["status"] == "draft"
    assert created["name"] == "Onboarding"
    assert created["lifecycle_stages"] == ["Acquisition"]
    assert created["definition"]["start"] == EXAMPLE["start"]

    fetched = await editor.get(f"/api/workflows/{created['id']}")
    assert fetched.status_code == 200
    assert fetched.json() == created

    versions = (await editor.get(f"/api/workflows/{created['id']}/versions")).json()
    assert [(v["version"], v["created_by"]) for v in versions] == [("1.0.0", "alice")]


async def test_list_filters_and_paginates(editor: httpx.AsyncClient) -> None:
    ids = {}
    for name, stages in [
        ("Welcome Alpha", ["Acquisition"]),
        ("welcome beta", ["Activation"]),
        ("Win-back", ["Retention", "Activation"]),
    ]:
        ids[name] = (await create(editor, name, lifecycle_stages=stages))["id"]
    await editor.post(f"/api/workflows/{ids['Win-back']}/status", json={"status": "active"})

    async def names(**params: Any) -> list[str]:
        response = await editor.get("/api/workflows", params=params)
        assert response.status_code == 200, response.text
        return sorted(item["name"] for item in response.json()["items"])

    assert await names(q="WELCOME") == ["Welcome Alpha", "welcome beta"]
    assert await names(stage="Activation") == ["Win-back", "welcome beta"]
    assert await names(status="active") == ["Win-back"]
    assert await names(status="draft", stage="Activation") == ["welcome beta"]
    assert await names(q="100%_") == []

    page = (await editor.get("/api/workflows", params={"limit": 2, "offset": 2})).json()
    assert (page["total"], page["limit"], page["offset"], len(page["items"])) == (3, 2, 2, 1)
    assert (await editor.get("/api/workflows")).json()["limit"] == 50
    for bad in ({"limit": 0}, {"limit": 201}, {"offset": -1}, {"status": "gone"}):
        response = await editor.get("/api/workflows", params=bad)
        assert response.status_code == 422
        assert response.headers["content-type"] == PROBLEM_JSON
        assert response.json()["errors"][0]["path"] == f"query.{next(iter(bad))}"


async def test_update_stores_a_new_version_and_keeps_the_old(editor: httpx.AsyncClient) -> None:
    created = await create(editor, "Onboarding")
    url = f"/api/workflows/{created['id']}"
    changed = journey("Onboarding v2", description="second take")
    response = await editor.put(url, json={"definition": changed})
    assert response.status_code == 200, response.text
    updated = response.json()
    assert (updated["version"], updated["name"]) == ("1.1.0", "Onboarding v2")
    assert updated["description"] == "second take"

    major = await editor.put(
        url, json={"definition": changed, "version_bump": "major"}, headers={"If-Match": '"1.1.0"'}
    )
    assert major.json()["version"] == "2.0.0"
    patch = await editor.put(
        url, json={"definition": changed, "version_bump": "patch", "expected_version": "2.0.0"}
    )
    assert patch.json()["version"] == "2.0.1"

    versions = (await editor.get(f"{url}/versions")).json()
    assert [v["version"] for v in versions] == ["2.0.1", "2.0.0", "1.1.0", "1.0.0"]
    first = (await editor.get(f"{url}/versions/1.0.0")).json()
    assert first["definition"]["name"] == "Onboarding"
    missing = await editor.get(f"{url}/versions/9.9.9")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == PROBLEM_JSON


async def test_a_stale_version_is_refused(editor: httpx.AsyncClient) -> None:
    created = await create(editor, "Onboarding")
    url = f"/api/workflows/{created['id']}"
    assert (await editor.put(url, json={"definition": journey("A")})).status_code == 200
    for kwargs in (
        {"json": {"definition": journey("B"), "expected_version": "1.0.0"}},
        {"json": {"definition": journey("B")}, "headers": {"If-Match": "1.0.0"}},
    ):
        response = await editor.put(url, **kwargs)  # type: ignore[arg-type]
        assert response.status_code == 409
        assert response.headers["content-type"] == PROBLEM_JSON
        assert "1.1.0" in response.json()["detail"]
    assert (await editor.get(url)).json()["name"] == "A"


async def test_status_transitions(editor: httpx.AsyncClient) -> None:
    created = await create(editor, "Onboarding")
    url = f"/api/workflows/{created['id']}"

    async def move(to: str) -> httpx.Response:
        return await editor.post(f"{url}/status", json={"status": to})

    refused = await move("inactive")
    assert refused.status_code == 409
    assert "draft" in refused.json()["detail"]
    assert "inactive" in refused.json()["detail"]
    for to in ("active", "inactive", "active", "archived"):
        response = await move(to)
        assert response.status_code == 200, response.text
        assert response.json()["status"] == to
    assert (await move("active")).status_code == 409
    edit = await editor.put(url, json={"definition": journey("Too late")})
    assert edit.status_code == 409
    assert "archived" in edit.json()["detail"]


async def test_delete_archives(editor: httpx.AsyncClient) -> None:
    created = await create(editor, "Onboarding")
    url = f"/api/workflows/{created['id']}"
    response = await editor.delete(url)
    assert response.status_code == 200
    assert response.json()["status"] == "archived"
    assert (await editor.get(url)).json()["status"] == "archived"
    assert (await editor.delete(url)).json()["status"] == "archived"
    listed = (await editor.get("/api/workflows", params={"status": "archived"})).json()
    assert [item["id"] for item in listed["items"]] == [created["id"]]


async def test_validate_returns_every_problem(editor: httpx.AsyncClient) -> None:
    ok = await editor.post("/api/workflows/validate", json={"definition": EXAMPLE})
    assert ok.json() == {"valid": True, "problems": []}
    broken = journey("Broken", start="nowhere", timezone="Mars/Base")
    response = await editor.post("/api/workflows/validate", json={"definition": broken})
    assert response.status_code == 200
    body = response.json()
    assert body["valid"] is False
    assert {"/start", "/timezone"} <= {problem["path"] for problem in body["problems"]}
    assert (await editor.get("/api/workflows")).json()["total"] == 0


async def test_roles(settings: Settings, api_client_for: ApiClientFactory) -> None:
    async with api_client_for(settings) as api:
        anonymous = await api.get("/api/workflows")
        assert anonymous.status_code == 401
        assert anonymous.headers["content-type"] == PROBLEM_JSON
        assert anonymous.headers["www-authenticate"] == "Bearer"
        viewer = auth(settings, Role.viewer)
        assert (await api.get("/api/workflows", headers=viewer)).status_code == 200
        body = {"definition": EXAMPLE}
        denied = await api.post("/api/workflows", json=body, headers=viewer)
        assert denied.status_code == 403
        assert denied.json()["type"] == "https://journey.dev/problems/forbidden"
        validated = await api.post("/api/workflows/validate", json=body, headers=viewer)
        assert validated.status_code == 200


async def test_nul_characters_are_refused_not_500(editor: httpx.AsyncClient) -> None:
    """PostgreSQL cannot store NUL; the gateway answers 4xx on both databases, never 5xx."""
    response = await editor.post(
        "/api/workflows", json={"definition": journey("Nul", description="a\x00b")}
    )
    assert response.status_code in (201, 422)
    listed = await editor.get("/api/workflows", params={"q": "a\x00b"})
    assert listed.status_code in (200, 422)
    created = await create(editor, "Fine")
    version = await editor.get(f"/api/workflows/{created['id']}/versions/1%00")
    assert version.status_code in (404, 422)

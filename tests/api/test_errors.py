"""Every error of the gateway is an RFC 7807 problem: auth, routing, validation, sizes, ids.

SQLite only: these paths do not depend on the database backend (test_workflows.py covers both).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.auth import Role
from tests.api.conftest import ApiClientFactory
from tests.api.test_workflows import EXAMPLE, PROBLEM_JSON, auth, settings_for
from tests.harness.database import migrated_sqlite
from tests.harness.ports import free_port

BASE = "https://journey.dev/problems/"


@pytest.fixture
async def api(tmp_path: Path, api_client_for: ApiClientFactory) -> AsyncIterator[httpx.AsyncClient]:
    url = f"sqlite:///{(tmp_path / 'errors.db').as_posix()}"
    migrated_sqlite(url)
    settings = settings_for(url, tmp_path, api_max_body_bytes=4096)
    async with api_client_for(settings) as client:
        client.headers.update(auth(settings, Role.editor))
        yield client


def assert_problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body: dict[str, Any] = response.json()
    assert body["type"] == BASE + slug
    assert body["status"] == status
    assert body["title"]
    assert body["instance"] == response.request.url.path
    return body


async def test_malformed_json_is_400(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/api/workflows", content=b'{"definition": ', headers={"content-type": "application/json"}
    )
    assert "not valid JSON" in assert_problem(response, 400, "malformed-json")["detail"]


async def test_oversized_body_by_content_length_is_413(api: httpx.AsyncClient) -> None:
    padded = {**EXAMPLE, "description": "x" * 5000}
    response = await api.post("/api/workflows", json={"definition": padded})
    assert "4096" in assert_problem(response, 413, "payload-too-large")["detail"]


async def test_oversized_streamed_body_is_413(api: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"definition": {"description": "'
        for _ in range(10):
            yield b"x" * 1000
        yield b'"}}'

    response = await api.post(
        "/api/workflows", content=chunks(), headers={"content-type": "application/json"}
    )
    assert "content-length" not in response.request.headers
    assert_problem(response, 413, "payload-too-large")


@pytest.mark.parametrize(
    "path",
    [
        "/api/workflows/00000000-0000-0000-0000-000000000000",
        "/api/workflows/not-a-uuid",
        "/api/workflows/not-a-uuid/versions",
        "/api/workflows/00000000-0000-0000-0000-000000000000/versions/1.0.0",
        "/no/such/route",
    ],
)
async def test_unknown_ids_and_routes_are_404(api: httpx.AsyncClient, path: str) -> None:
    assert_problem(await api.get(path), 404, "not-found")


async def test_unknown_id_on_writes_is_404(api: httpx.AsyncClient) -> None:
    url = "/api/workflows/not-a-uuid"
    assert_problem(await api.put(url, json={"definition": EXAMPLE}), 404, "not-found")
    assert_problem(await api.post(f"{url}/status", json={"status": "active"}), 404, "not-found")
    assert_problem(await api.delete(url), 404, "not-found")


async def test_wrong_method_is_405(api: httpx.AsyncClient) -> None:
    assert_problem(await api.patch("/api/workflows"), 405, "method-not-allowed")


async def test_invalid_journey_lists_every_problem(api: httpx.AsyncClient) -> None:
    broken = {**EXAMPLE, "start": "nowhere", "timezone": "Mars/Base"}
    response = await api.post("/api/workflows", json={"definition": broken})
    body = assert_problem(response, 422, "invalid-journey")
    paths = {problem["path"] for problem in body["problems"]}
    assert {"/start", "/timezone"} <= paths
    assert all(set(problem) == {"path", "code", "message"} for problem in body["problems"])
    assert (await api.get("/api/workflows")).json()["total"] == 0


async def test_request_validation_errors_carry_pointers(api: httpx.AsyncClient) -> None:
    response = await api.post("/api/workflows", json={"definition": "nope", "extra": 1})
    body = assert_problem(response, 422, "validation-error")
    assert {error["path"] for error in body["errors"]} == {"/definition", "/extra"}
    created = await api.post("/api/workflows", json={"definition": EXAMPLE})
    url = f"/api/workflows/{created.json()['id']}"
    bump = await api.put(url, json={"definition": EXAMPLE, "version_bump": "huge"})
    assert assert_problem(bump, 422, "validation-error")["errors"][0]["path"] == "/version_bump"
    status = await api.post(f"{url}/status", json={"status": "gone"})
    assert assert_problem(status, 422, "validation-error")["errors"][0]["path"] == "/status"


async def test_missing_token_is_a_401_problem(api: httpx.AsyncClient) -> None:
    del api.headers["Authorization"]
    body = assert_problem(await api.get("/api/workflows"), 401, "unauthorized")
    assert body["detail"] == "missing bearer token"


async def test_unexpected_errors_are_500_problems() -> None:
    """The last-resort handler answers a problem without internals (and logs the error)."""

    from fastapi import FastAPI

    from api.errors import install_error_handlers

    app = FastAPI()
    install_error_handlers(app)

    @app.get("/boom")
    async def explode() -> None:
        raise RuntimeError("secret internals")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.get("/boom")
    body = assert_problem(response, 500, "internal-error")
    assert "secret" not in response.text
    assert body["detail"]


async def test_openapi_documents_examples_and_problems(api: httpx.AsyncClient) -> None:
    spec = (await api.get("/openapi.json")).json()
    create = spec["paths"]["/api/workflows"]["post"]
    examples = create["requestBody"]["content"]["application/json"]["examples"]
    assert examples["onboarding"]["value"]["definition"]["name"] == EXAMPLE["name"]
    assert PROBLEM_JSON in create["responses"]["422"]["content"]
    assert "ProblemDetail" in spec["components"]["schemas"]
    for path, methods in spec["paths"].items():
        if path.startswith("/api/workflows"):
            for operation in methods.values():
                assert "200" in operation["responses"] or "201" in operation["responses"]


async def test_a_database_that_does_not_answer_is_503_to_retry(
    tmp_path: Path, api_client_for: ApiClientFactory
) -> None:
    # Nothing listens on the port: every query fails as a locked SQLite file would, transiently.
    url = f"postgresql+psycopg://journey:journey@127.0.0.1:{free_port()}/journey"
    settings = settings_for(url, tmp_path)
    async with api_client_for(settings) as client:
        client.headers.update(auth(settings, Role.editor))
        response = await client.post("/api/workflows", json={"definition": EXAMPLE})
    body = assert_problem(response, 503, "service-unavailable")
    assert "send the request again" in body["detail"]
    assert response.headers["retry-after"] == "5"

"""BPMN import and export through the gateway, and the docs' walk-through on a real worker.

The definition tests run on both databases with Temporal and Kafka pointing nowhere (the
definitions routes never touch them); the last test imports examples/bpmn/welcome.bpmn as
docs/journeys.md shows and runs it on the dev server with a real worker, SMTP server and database.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from pydantic import SecretStr
from sqlmodel import select

from api.auth import Role, create_token
from dsl.validation import validate_journey
from journey.bpmn import import_bpmn
from journey.bpmn.canonical import equivalent
from journey.core.config import Settings
from journey.core.db.engine import create_db_engine, make_session_factory
from journey.core.db.models import User, Workflow, WorkflowExecution
from journey.core.kafka.clients import ensure_topics
from tests.api.conftest import ApiClientFactory
from tests.api.test_workflows import auth, journey, settings_for
from tests.harness.env import JourneyEnv
from tests.journey.bpmn.helpers import END, START, chain, document
from worker import journey_worker

ROOT = Path(__file__).resolve().parents[2]
WELCOME = (ROOT / "examples" / "bpmn" / "welcome.bpmn").read_bytes()
IMPORT = "/api/workflows/import/bpmn"
XML = {"Content-Type": "application/xml"}
PROBLEM_JSON = "application/problem+json"


@pytest.fixture
def settings(migrated_database_url: str, tmp_path: Path) -> Settings:
    return settings_for(migrated_database_url, tmp_path)


@pytest_asyncio.fixture
async def editor(
    settings: Settings, api_client_for: ApiClientFactory
) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client_for(settings) as client:
        client.headers.update(auth(settings, Role.editor))
        yield client


@pytest.fixture
def viewer_headers(settings: Settings) -> dict[str, str]:
    return auth(settings, Role.viewer)


def _stored(settings: Settings) -> list[Workflow]:
    engine = create_db_engine(settings.resolved_database_url)
    try:
        with make_session_factory(engine)() as session:
            return list(session.exec(select(Workflow)).all())
    finally:
        engine.dispose()


async def test_import_stores_a_draft_and_keeps_the_source(
    editor: httpx.AsyncClient, settings: Settings
) -> None:
    response = await editor.post(IMPORT, content=WELCOME, headers=XML)
    assert response.status_code == 201, response.text
    created = response.json()
    assert (created["status"], created["version"]) == ("draft", "1.0.0")
    assert created["name"] == "Welcome (from BPMN)"
    assert created["lifecycle_stages"] == ["Acquisition"]
    assert created["suggested_trigger"] == {"event_type": "signup"}
    expected = import_bpmn(WELCOME).document
    stored = validate_journey(created["definition"]).document
    assert expected is not None and stored is not None and equivalent(expected, stored)
    [row] = _stored(settings)
    assert row.bpmn_source == WELCOME.decode()
    original = await editor.get(f"/api/workflows/{created['id']}/bpmn?source=original")
    assert original.status_code == 200
    assert original.content == WELCOME
    assert original.headers["content-type"].startswith("application/xml")


@pytest.mark.parametrize("media_type", ["text/xml", "application/bpmn+xml; charset=utf-8"])
async def test_other_xml_media_types_are_accepted(
    editor: httpx.AsyncClient, media_type: str
) -> None:
    response = await editor.post(IMPORT, content=WELCOME, headers={"Content-Type": media_type})
    assert response.status_code == 201, response.text


async def test_import_is_not_read_as_a_journey_id(editor: httpx.AsyncClient) -> None:
    """`/import/bpmn` must reach the import route, never a `/{id}/...` route."""
    created = (await editor.post(IMPORT, content=WELCOME, headers=XML)).json()
    assert uuid.UUID(created["id"])
    # Only other methods and paths read `import` as an (unknown) journey id.
    assert (await editor.get("/api/workflows/import")).status_code == 404
    exported = await editor.get(IMPORT)  # GET /{id}/bpmn: the export of a journey "import"
    assert (exported.status_code, exported.json()["detail"]) == (
        404,
        "no journey with id 'import'",
    )


async def test_unreadable_and_unsafe_bodies_are_400_and_store_nothing(
    editor: httpx.AsyncClient, settings: Settings
) -> None:
    cases = {
        b"<bpmn:definitions": "xml-malformed",
        b'<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><d>&x;</d>': "xml-dtd-forbidden",
        b"<not-bpmn/>": "not-bpmn",
        b"   ": "bad-request",
    }
    for body, slug in cases.items():
        response = await editor.post(IMPORT, content=body, headers=XML)
        assert response.status_code == 400, response.text
        assert response.headers["content-type"] == PROBLEM_JSON
        assert response.json()["type"].endswith(f"/{slug}")
        assert "root:" not in response.text
    assert _stored(settings) == []


async def test_a_body_that_is_not_xml_is_415(editor: httpx.AsyncClient) -> None:
    response = await editor.post(IMPORT, json={"definition": journey("x")})
    assert response.status_code == 415
    assert "application/xml" in response.json()["detail"]


async def test_unmappable_and_invalid_diagrams_are_422_with_element_ids(
    editor: httpx.AsyncClient, settings: Settings
) -> None:
    unsupported = START + '<bpmn:userTask id="approve"/>' + END + chain("start", "approve", "done")
    response = await editor.post(IMPORT, content=document(unsupported), headers=XML)
    assert response.status_code == 422
    body = response.json()
    assert body["type"].endswith("/invalid-bpmn")
    [problem] = body["problems"]
    assert (problem["element_id"], problem["element_type"], problem["code"]) == (
        "approve",
        "bpmn:userTask",
        "unsupported_element",
    )
    invalid = (
        START
        + '<bpmn:serviceTask id="mail" xflow:action="email" xflow:to="a@example.com"/>'
        + END
        + chain("start", "mail", "done")
    )
    response = await editor.post(IMPORT, content=document(invalid), headers=XML)
    assert response.status_code == 422
    assert {(p["element_id"], p["path"], p["code"]) for p in response.json()["problems"]} == {
        ("mail", "/nodes/0/subject", "missing"),
    }
    assert _stored(settings) == []


async def test_importing_needs_the_editor_role(
    api_client_for: ApiClientFactory, settings: Settings, viewer_headers: dict[str, str]
) -> None:
    async with api_client_for(settings) as client:
        response = await client.post(IMPORT, content=WELCOME, headers={**XML, **viewer_headers})
        assert response.status_code == 403
        assert (await client.post(IMPORT, content=WELCOME, headers=XML)).status_code == 401


async def test_export_writes_any_journey_and_each_version(
    editor: httpx.AsyncClient,
    api_client_for: ApiClientFactory,
    settings: Settings,
    viewer_headers: dict[str, str],
) -> None:
    first = journey("Onboarding")
    created = (await editor.post("/api/workflows", json={"definition": first})).json()
    second = journey("Onboarding", description="Second version")
    updated = await editor.put(f"/api/workflows/{created['id']}", json={"definition": second})
    assert updated.status_code == 200, updated.text
    async with api_client_for(settings) as viewer:
        viewer.headers.update(viewer_headers)
        current = await viewer.get(f"/api/workflows/{created['id']}/bpmn")
        older = await viewer.get(
            f"/api/workflows/{created['id']}/bpmn", params={"version": "1.0.0"}
        )
    assert current.status_code == older.status_code == 200
    assert current.headers["content-type"].startswith("application/xml")
    assert current.headers["content-disposition"] == 'attachment; filename="onboarding.bpmn"'
    for response, data in ((current, second), (older, first)):
        back = import_bpmn(response.content).document
        expected = validate_journey(data).document
        assert back is not None and expected is not None and equivalent(expected, back)
    missing = await editor.get(f"/api/workflows/{created['id']}/bpmn", params={"version": "9.9.9"})
    assert missing.status_code == 404
    no_source = await editor.get(f"/api/workflows/{created['id']}/bpmn?source=original")
    assert no_source.status_code == 404
    assert "not imported from BPMN" in no_source.json()["detail"]
    assert (await editor.get(f"/api/workflows/{uuid.uuid4()}/bpmn")).status_code == 404


# --- the docs/journeys.md walk-through on a real worker ---------------------------------------


@pytest_asyncio.fixture
async def gateway(
    journey_env: JourneyEnv, api_client_for: ApiClientFactory, migrated_database_url: str
) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    settings = journey_env.settings.model_copy(
        update={"jwt_secret": SecretStr("s" * 32), "database_url": migrated_database_url}
    )
    ensure_topics(settings)
    engine = create_db_engine(settings.resolved_database_url)
    sessions = make_session_factory(engine)
    token = create_token(settings, subject="readme", role=Role.admin)
    try:
        async with (
            journey_worker(journey_env.temporal_client, settings, sessions),
            api_client_for(settings) as http,
        ):
            http.headers["Authorization"] = f"Bearer {token}"
            yield http, sessions
    finally:
        engine.dispose()


async def _until(check: Any, what: str) -> Any:
    for _ in range(300):  # a hang guard, not a timing assertion
        found = await check()
        if found:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"never happened: {what}")


async def test_the_modeler_file_becomes_a_running_journey(
    gateway: tuple[httpx.AsyncClient, Any], journey_env: JourneyEnv
) -> None:
    """docs/journeys.md's steps: import, activate, start, the first wait, the event, the outcome.
    `ada` has no profile (the diagram sets create_missing_profile); `bob` has one with an
    address, so his welcome email is really sent."""
    http, sessions = gateway
    suffix = uuid.uuid4().hex[:8]
    ada, bob = f"ada-{suffix}", f"bob-{suffix}"
    with sessions() as session:
        session.add(User(id=bob, email=f"{bob}@example.com", attributes={"first_name": "Bob"}))
        session.commit()
    imported = await http.post(IMPORT, content=WELCOME, headers=XML)
    assert imported.status_code == 201, imported.text
    journey_id = imported.json()["id"]
    activated = await http.post(f"/api/workflows/{journey_id}/status", json={"status": "active"})
    assert activated.status_code == 200, activated.text
    runs = {}
    for user_id in (ada, bob):
        started = await http.post(f"/api/workflows/{journey_id}/start", json={"user_id": user_id})
        assert started.status_code == 201, started.text
        runs[user_id] = started.json()["id"]

    for user_id, execution_id in runs.items():

        async def waiting(execution_id: str = execution_id) -> bool:
            detail = (await http.get(f"/api/executions/{execution_id}")).json()
            at_wait = detail.get("current_nodes") == ["Activity_wait_activation"]
            return at_wait and bool(detail.get("waiting_for"))

        await _until(waiting, f"{user_id}'s run reaches its first wait")
    mails = [
        m for m in await journey_env.smtp_server.wait_for(1) if m.rcpt_tos == [f"{bob}@example.com"]
    ]
    assert [mail.subject for mail in mails] == ["Welcome, Bob!"]

    for user_id, execution_id in runs.items():
        event = {"type": "activated", "user_id": user_id}
        sent = await http.post(f"/api/executions/{execution_id}/events", json=event)
        assert sent.status_code == 202, sent.text

        async def finished(execution_id: str = execution_id) -> WorkflowExecution | None:
            with sessions() as session:
                row = session.get(WorkflowExecution, uuid.UUID(execution_id))
            return row if row is not None and row.status != "running" else None

        row = await _until(finished, f"{user_id}'s run ends")
        assert (row.status, row.outcome) == ("completed", "welcomed")
        with sessions() as session:
            user = session.get(User, user_id)
            assert user is not None
            assert user.current_lifecycle_stage == "Activation"
            assert (user.attributes or {}).get("activated") is True

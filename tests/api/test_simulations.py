"""`POST /api/workflows/{id}/simulate` through HTTP, on a real database.

The gateway reads the stored journey (and any sub-journey it names), runs the simulation on a
private time-skipping server and answers with the timeline. Its servers point nowhere (port 9):
a simulation must not need them. The database must be unchanged but for the call's audit row.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from api.auth import Role
from api.main import create_app
from journey.core.config import Settings
from tests.api.conftest import ApiClientFactory
from tests.api.test_workflows import PROBLEM_JSON, auth, create, journey, settings_for

ADA = {"id": "ada", "email": "ada@example.com", "attributes": {"first_name": "Ada"}}
TABLES = (
    "users",
    "deliveries",
    "workflow_executions",
    "workflow_execution_nodes",
    "lifecycle_events",
    "user_lifecycle_history",
    "workflow_versions",
    "audit_log",
)


@pytest.fixture
def settings(migrated_database_url: str, tmp_path: Path) -> Settings:
    return settings_for(migrated_database_url, tmp_path)


@pytest.fixture
async def api(
    settings: Settings, api_client_for: ApiClientFactory
) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client_for(settings) as client:
        client.headers.update(auth(settings, Role.editor))
        yield client


def row_counts(database_url: str) -> dict[str, int]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            return {
                table: int(connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())
                for table in TABLES
            }
    finally:
        engine.dispose()


async def simulate(api: httpx.AsyncClient, journey_id: str, body: dict[str, Any]) -> httpx.Response:
    return await api.post(f"/api/workflows/{journey_id}/simulate", json=body)


async def test_simulates_a_stored_journey_and_writes_nothing(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    created = await create(api, "Onboarding")
    before = row_counts(settings.resolved_database_url)
    body = {
        "user": ADA,
        "entry_event": {"type": "signup"},
        "events": [{"at": "P2D", "type": "activated"}],
    }
    response = await simulate(api, created["id"], body)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["status"] == "completed"
    assert result["outcome"] == "activated"
    steps = [e["node_id"] for e in result["timeline"] if e["kind"] == "node"]
    assert steps == [
        "wait_a_day",
        "already_active",
        "nudge_email",
        "wait_for_activation",
        "move_to_activation",
        "activated",
    ]
    email = next(e for e in result["timeline"] if e["node_id"] == "nudge_email")
    # A day after the start, plus the moments the worker computed in (the virtual clock moves
    # with real time between timers: on a loaded CI machine that was over half a second).
    assert 86_400 <= email["offset_seconds"] < 86_400 + 60, email["offset"]
    assert email["effect"]["details"]["subject"] == "Ada, your workspace is waiting"
    assert result["user"]["current_lifecycle_stage"] == "Activation"

    after = row_counts(settings.resolved_database_url)
    assert after == {**before, "audit_log": before["audit_log"] + 1}


async def test_simulates_a_stored_version(api: httpx.AsyncClient) -> None:
    created = await create(api, "Onboarding")
    changed = journey("Onboarding")
    changed["nodes"][2]["subject"] = "Version two"
    url = f"/api/workflows/{created['id']}"
    assert (await api.put(url, json={"definition": changed})).status_code == 200

    def subject(result: dict[str, Any]) -> str:
        email = next(e for e in result["timeline"] if e["node_id"] == "nudge_email")
        return str(email["effect"]["details"]["subject"])

    body = {"user": ADA, "horizon": "P2D"}
    current = await simulate(api, created["id"], body)
    assert subject(current.json()) == "Version two"
    first = await simulate(api, created["id"], {**body, "version": "1.0.0"})
    assert first.status_code == 200, first.text
    assert subject(first.json()) == "Ada, your workspace is waiting"
    assert first.json()["status"] == "waiting"


async def test_runs_a_stored_sub_journey(api: httpx.AsyncClient) -> None:
    child = await create(
        api,
        "Child",
        start="hi",
        nodes=[
            {
                "id": "hi",
                "type": "email",
                "to": "{{ user.email }}",
                "subject": "From the child",
                "text": "t",
                "next": "done",
            },
            {"id": "done", "type": "end"},
        ],
        exit_criteria=None,
        goal=None,
    )
    parent = await create(
        api,
        "Parent",
        start="child",
        nodes=[
            {"id": "child", "type": "sub_journey", "journey_id": child["id"], "next": "done"},
            {"id": "done", "type": "end"},
        ],
        exit_criteria=None,
        goal=None,
    )
    response = await simulate(api, parent["id"], {"user": ADA})
    assert response.status_code == 200, response.text
    hello = next(e for e in response.json()["timeline"] if e["node_id"] == "hi")
    assert hello["run"] == "main/child"
    assert hello["effect"]["details"]["subject"] == "From the child"


@pytest.mark.parametrize(
    ("body", "paths"),
    [
        ({"user": {"attributes": []}}, ["/user/attributes"]),
        ({"user": {"current_lifecycle_stage": "Nowhere"}}, ["/user/current_lifecycle_stage"]),
        (
            {"events": [{"at": "soon", "type": "x"}, {"at": "P1D"}]},
            ["/events/0/at", "/events/1/type"],
        ),
        ({"events": [{"at": "-P1D", "type": "x"}]}, ["/events/0/at"]),
        ({"events": [{"at": "P9D", "type": "x"}], "horizon": "P5D"}, ["/events/0/at"]),
        ({"webhook_responses": {"wait_a_day": {"status": 200}}}, ["/webhook_responses/wait_a_day"]),
        ({"horizon": "P400D"}, ["/horizon"]),
        ({"version": "9.9.9"}, ["/version"]),
        ({"surprise": 1}, ["/surprise"]),
    ],
)
async def test_bad_input_is_422_with_the_path_of_each_problem(
    api: httpx.AsyncClient, body: dict[str, Any], paths: list[str]
) -> None:
    created = await create(api, "Onboarding")
    response = await simulate(api, created["id"], body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    assert [error["path"] for error in response.json()["errors"]] == paths


async def test_roles_and_unknown_journeys(api: httpx.AsyncClient, settings: Settings) -> None:
    created = await create(api, "Onboarding")
    url = f"/api/workflows/{created['id']}/simulate"
    viewer = await api.post(url, json={}, headers=auth(settings, Role.viewer))
    assert viewer.status_code == 403
    anonymous = await api.post(url, json={}, headers={"Authorization": ""})
    assert anonymous.status_code == 401
    missing = await api.post(
        "/api/workflows/00000000-0000-0000-0000-000000000000/simulate", json={}
    )
    assert missing.status_code == 404
    operator = await api.post(url, json={"horizon": "PT1H"}, headers=auth(settings, Role.operator))
    assert operator.status_code == 200, operator.text
    assert operator.json()["waiting_at"] == ["wait_a_day"]


async def test_a_busy_gateway_answers_503(settings: Settings) -> None:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://journey") as client:
            client.headers.update(auth(settings, Role.editor))
            created = await create(client, "Onboarding")
            app.state.simulations = asyncio.Semaphore(1)
            async with app.state.simulations:  # every slot taken by another simulation
                busy = await simulate(client, created["id"], {"horizon": "PT1H"})
            assert busy.status_code == 503
            assert busy.headers["retry-after"] == "5"
            free = await simulate(client, created["id"], {"horizon": "PT1H"})
            assert free.status_code == 200

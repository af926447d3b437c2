"""`GET /api/workflows/{id}/diagram` through HTTP: Mermaid text, read back structurally.

Counts come from runs written the way the run mirror writes them (workflow_executions and
their per-node rows), so the annotation is checked against the performance report's sums.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from api.auth import Role
from journey.core.config import Settings
from journey.core.db.engine import create_db_engine
from tests.api.conftest import ApiClientFactory
from tests.api.test_workflows import PROBLEM_JSON, auth, create, journey, settings_for
from tests.dsl.mermaid import parse
from tests.journey.services.metrics.data import Data


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


def seed_runs(settings: Settings, journey_id: str) -> None:
    """Two finished runs of version 1.0.0 and one of 1.1.0, per node as the mirror writes."""
    engine = create_db_engine(settings.resolved_database_url)
    try:
        with sessionmaker(engine, class_=Session)() as session:
            data = Data(session)
            data.user("u1", "2026-01-01")
            key = uuid.UUID(journey_id)
            wait, nudge = ("wait_a_day", "delay", 1, 1, 0, None), ("nudge_email", "email")
            data.run(
                key,
                "u1",
                "completed",
                "2026-03-10 10:00",
                "2026-03-11 10:00",
                nodes=(wait, (*nudge, 1, 1, 0, None)),
            )
            data.run(
                key,
                "u1",
                "failed",
                "2026-03-10 10:00",
                "2026-03-11 10:00",
                nodes=(wait, (*nudge, 1, 0, 1, None)),
            )
            data.run(
                key,
                "u1",
                "completed",
                "2026-03-12 10:00",
                "2026-03-13 10:00",
                version="1.1.0",
                nodes=(wait,),
            )
            session.commit()
    finally:
        engine.dispose()


async def test_the_diagram_is_mermaid_text_with_every_node(api: httpx.AsyncClient) -> None:
    created = await create(api, "Onboarding")
    response = await api.get(f"/api/workflows/{created['id']}/diagram")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    diagram = parse(response.text)
    node_ids = {node["id"] for node in created["definition"]["nodes"]}
    assert node_ids <= set(diagram.by_journey_id())
    assert all(len(lines) == 2 for _, lines in diagram.nodes.values() if lines[0] in node_ids)


async def test_counts_annotate_nodes(api: httpx.AsyncClient, settings: Settings) -> None:
    created = await create(api, "Onboarding")
    seed_runs(settings, created["id"])
    url = f"/api/workflows/{created['id']}/diagram"

    def label(text: str, node_id: str) -> list[str]:
        diagram = parse(text)
        return diagram.nodes[diagram.by_journey_id()[node_id]][1]

    every = (await api.get(url, params={"counts": "true"})).text
    assert label(every, "wait_a_day")[-1] == "entered 3 · completed 3 · failed 0"
    assert label(every, "nudge_email")[-1] == "entered 2 · completed 1 · failed 1"
    assert label(every, "stalled")[-1] == "entered 0 · completed 0 · failed 0"
    assert parse(every).classes[parse(every).by_journey_id()["stalled"]] == "unvisited"

    only_first = (await api.get(url, params={"counts": "true", "version": "1.0.0"})).text
    assert label(only_first, "wait_a_day")[-1] == "entered 2 · completed 2 · failed 0"
    in_range = (await api.get(url, params={"counts": "true", "from": "2026-03-12"})).text
    assert label(in_range, "wait_a_day")[-1] == "entered 1 · completed 1 · failed 0"
    plain = (await api.get(url)).text
    assert not any("entered" in line for _, lines in parse(plain).nodes.values() for line in lines)


async def test_a_stored_version_is_drawn(api: httpx.AsyncClient) -> None:
    created = await create(api, "Onboarding")
    url = f"/api/workflows/{created['id']}"
    changed = journey("Onboarding")
    changed["nodes"][0]["duration"] = "P2D"
    assert (await api.put(url, json={"definition": changed})).status_code == 200

    def delay_line(text: str) -> str:
        diagram = parse(text)
        return diagram.nodes[diagram.by_journey_id()["wait_a_day"]][1][1]

    assert delay_line((await api.get(f"{url}/diagram")).text) == "delay P2D"
    old = await api.get(f"{url}/diagram", params={"version": "1.0.0"})
    assert delay_line(old.text) == "delay P1D"
    missing = await api.get(f"{url}/diagram", params={"version": "9.9.9"})
    assert missing.status_code == 404
    assert missing.headers["content-type"] == PROBLEM_JSON


async def test_roles_and_bad_parameters(api: httpx.AsyncClient, settings: Settings) -> None:
    created = await create(api, "Onboarding")
    url = f"/api/workflows/{created['id']}/diagram"
    viewer = await api.get(url, headers=auth(settings, Role.viewer))
    assert viewer.status_code == 200
    assert (await api.get(url, headers={"Authorization": ""})).status_code == 401
    unknown = await api.get("/api/workflows/not-a-uuid/diagram")
    assert unknown.status_code == 404
    backwards = await api.get(
        url, params={"counts": "true", "from": "2026-03-12", "to": "2026-03-01"}
    )
    assert backwards.status_code == 422
    assert backwards.json()["errors"][0]["path"] == "query.to"

"""`/api/metrics` over HTTP on both databases: the reports, 404s, 422 paths and roles.

The numbers come from small scenarios counted by hand (the metric definitions themselves are
tested in tests/journey/services/metrics/); here the point is what the gateway makes of them.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from api.auth import Role
from journey.services.metrics.rollup import rollup_day
from tests.api.conftest import ApiClientFactory
from tests.api.test_workflows import PROBLEM_JSON, auth, settings_for
from tests.journey.services.metrics.data import Data


@dataclass
class Api:
    http: httpx.AsyncClient
    sessions: sessionmaker[Session]
    segment: uuid.UUID
    journey: uuid.UUID

    async def get(self, url: str, **params: Any) -> dict[str, Any]:
        answer = await self.http.get(url, params=params)
        assert answer.status_code == 200, answer.text
        return dict(answer.json())


def seed(data: Data) -> tuple[uuid.UUID, uuid.UUID]:
    """a: created 03-02, Activation 03-04 (member since 03-01, event `paid` 03-05);
    b: created 03-03, no stage change (member since 03-01); c: created 03-09, Activation
    03-10; journey J: a completed 90 s run (variant A, goal reached), a failed one."""
    for user, created in [("a", "2026-03-02"), ("b", "2026-03-03"), ("c", "2026-03-09")]:
        data.user(user, created)
    data.move("a", "Activation", "2026-03-04")
    data.move("c", "Activation", "2026-03-10")
    data.event("a", "paid", "2026-03-05")
    segment = data.segment()
    for user in ("a", "b"):
        data.member(segment, user, "2026-03-01")
    journey = data.journey()
    data.run(
        journey,
        "a",
        "completed",
        "2026-03-04 10:00",
        "2026-03-04 10:01:30",
        goal=True,
        nodes=(("s", "split", 1, 1, 0, "A"), ("done", "end", 1, 1, 0, None)),
    )
    data.run(
        journey,
        "b",
        "failed",
        "2026-03-04 10:00",
        "2026-03-04 10:00:10",
        goal=False,
        nodes=(("s", "split", 1, 1, 0, "B"),),
    )
    return segment, journey


@pytest.fixture
async def api(
    migrated_engine: Engine,
    migrated_database_url: str,
    tmp_path: Path,
    api_client_for: ApiClientFactory,
) -> AsyncIterator[Api]:
    settings = settings_for(migrated_database_url, tmp_path)
    sessions = sessionmaker(migrated_engine, class_=Session, expire_on_commit=False)
    with sessions() as session:
        segment, journey = seed(Data(session))
        session.commit()
    async with api_client_for(settings) as client:
        client.headers.update(auth(settings, Role.viewer))
        yield Api(client, sessions, segment, journey)


def errors(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    return {error["path"]: error["message"] for error in response.json()["errors"]}


async def test_funnel(api: Api) -> None:
    march = {"from": "2026-03-01", "to": "2026-03-31"}
    body = await api.get("/api/metrics/lifecycle/funnel", **march)
    assert body["range"] == {"from": "2026-03-01", "to": "2026-03-31"}
    assert [(s["stage"], s["entered"], s["converted"]) for s in body["stages"][:2]] == [
        ("Acquisition", 3, 2),
        ("Activation", 2, 0),
    ]
    assert body["stages"][0]["conversion_rate"] == 2 / 3
    members = await api.get("/api/metrics/lifecycle/funnel", segment_id=str(api.segment), **march)
    assert [(s["entered"], s["converted"]) for s in members["stages"][:2]] == [(2, 1), (1, 0)]


async def test_performance(api: Api) -> None:
    body = await api.get(f"/api/metrics/workflows/{api.journey}/performance")
    assert body["runs"] == 2 and body["runs_by_status"]["failed"] == 1
    assert body["completion_rate"] == 0.5
    assert body["duration"] == {"runs": 1, "p50_seconds": 90.0, "p95_seconds": 90.0}
    assert body["goal"] == {"evaluated": 2, "reached": 1, "rate": 0.5}
    assert [(v["variant"], v["runs"], v["goal_rate"]) for v in body["variants"]] == [
        ("A", 1, 1.0),
        ("B", 1, 0.0),
    ]
    later = await api.get(
        f"/api/metrics/workflows/{api.journey}/performance", **{"from": "2026-03-05"}
    )
    assert later["runs"] == 0


async def test_segment_conversion(api: Api) -> None:
    url = f"/api/metrics/segments/{api.segment}/conversion"
    stage = await api.get(url, goal_stage="Activation")
    assert (stage["members"], stage["converted"], stage["window"]) == (2, 1, "P7D")
    assert stage["goal"] == {"stage": "Activation", "event": None}
    assert (await api.get(url, goal_stage="Activation", window="P2D"))["converted"] == 0
    assert (await api.get(url, goal_event="paid", window="PT96H"))["converted"] == 1


async def test_cohorts(api: Api) -> None:
    body = await api.get(
        "/api/metrics/cohorts",
        period="week",
        stage="Activation",
        periods=2,
        **{"from": "2026-03-02", "to": "2026-03-15"},
    )
    cells = {
        c["cohort"]: (c["size"], [x["users"] for x in c["retention"]]) for c in body["cohorts"]
    }
    assert cells == {"2026-03-02": (2, [1, 0]), "2026-03-09": (1, [1, 0])}


async def test_daily_rows(api: Api) -> None:
    with api.sessions() as session:
        rollup_day(session, day=date(2026, 3, 4))
    body = await api.get(
        "/api/metrics/daily", metric="stage_entries", **{"from": "2026-03-04", "to": "2026-03-04"}
    )
    entries = {row["lifecycle_stage"]: row["metric_value"] for row in body["items"]}
    assert entries == {
        "Acquisition": 0,
        "Activation": 1,
        "Retention": 0,
        "Revenue": 0,
        "Referral": 0,
    }


async def test_unknown_ids_are_404(api: Api) -> None:
    missing = uuid.uuid4()
    for url, params in [
        (f"/api/metrics/workflows/{missing}/performance", {}),
        ("/api/metrics/workflows/not-a-uuid/performance", {}),
        (f"/api/metrics/segments/{missing}/conversion", {"goal_stage": "Activation"}),
        ("/api/metrics/lifecycle/funnel", {"segment_id": str(missing)}),
    ]:
        answer = await api.http.get(url, params=params)
        assert answer.status_code == 404, (url, answer.text)
        assert answer.headers["content-type"] == PROBLEM_JSON


async def test_parameters_that_do_not_fit_are_422_with_paths(api: Api) -> None:
    segment = f"/api/metrics/segments/{api.segment}/conversion"
    cases = [
        ("/api/metrics/lifecycle/funnel", {"from": "2026-03-02", "to": "2026-03-01"}, "query.to"),
        ("/api/metrics/lifecycle/funnel", {"from": "2000-01-01", "to": "2026-03-01"}, "query.to"),
        ("/api/metrics/lifecycle/funnel", {"to": "9999-12-31"}, "query.to"),
        (segment, {}, "query.goal_stage"),
        (segment, {"goal_stage": "Activation", "goal_event": "paid"}, "query.goal_stage"),
        (segment, {"goal_stage": "Activation", "window": "-P1D"}, "query.window"),
        (segment, {"goal_stage": "Activation", "window": "P9999D"}, "query.window"),
        ("/api/metrics/cohorts", {"stage": "Activation", "event": "paid"}, "query.stage"),
        ("/api/metrics/cohorts", {"stage": "Churned"}, "query.stage"),
        ("/api/metrics/cohorts", {"event": "x", "period": "day"}, "query.period"),
    ]
    for url, params, path in cases:
        found = errors(await api.http.get(url, params=params))
        assert path in found, (params, found)


async def test_reports_need_a_token(api: Api) -> None:
    anonymous = await api.http.get(
        "/api/metrics/cohorts", params={"event": "x"}, headers={"Authorization": ""}
    )
    assert anonymous.status_code == 401

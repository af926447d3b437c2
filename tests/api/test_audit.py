"""Every mutating /api call leaves an audit row; admins (only) read them, newest first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from unittest import mock

from sqlmodel import Session, create_engine, select

from api.auth import Role
from journey.core.db.models.gateway import AuditEntry
from tests.api.auth_helpers import API_KEY, auth_settings, bearer, probe_client
from tests.harness.env import JourneyEnv


def _rows(env: JourneyEnv) -> list[AuditEntry]:
    engine = create_engine(env.settings.resolved_database_url)
    try:
        with Session(engine) as session:
            return list(session.exec(select(AuditEntry).order_by(AuditEntry.id)))  # type: ignore[arg-type]
    finally:
        engine.dispose()


async def test_mutating_calls_are_recorded_with_actor_role_and_status(
    journey_env: JourneyEnv,
) -> None:
    settings = auth_settings(journey_env.settings)
    editor = bearer(settings, Role.editor, subject="erin")
    async with probe_client(settings) as api:
        assert (await api.post("/api/_probe/things/t-1", headers=editor)).status_code == 200
        viewer = bearer(settings, Role.viewer, subject="vic")
        assert (await api.post("/api/_probe/things/t-2", headers=viewer)).status_code == 403
        assert (await api.post("/api/_probe/things/t-3")).status_code == 401
        assert (await api.delete("/api/_probe/things/t-4", headers=editor)).status_code == 500
        assert (await api.get("/api/_probe/viewer", headers=editor)).status_code == 200
        assert (await api.post("/api/no-such-route", headers=editor)).status_code == 404
    rows = _rows(journey_env)
    assert [(r.actor, r.role, r.action, r.resource_id, r.status_code) for r in rows] == [
        ("erin", "editor", "POST /api/_probe/things/{thing_id}", "t-1", 200),
        ("vic", "viewer", "POST /api/_probe/things/{thing_id}", "t-2", 403),
        ("unauthenticated", "none", "POST /api/_probe/things/{thing_id}", "t-3", 401),
        ("erin", "editor", "DELETE /api/_probe/things/{thing_id}", "t-4", 500),
    ]
    assert rows[0].resource_type == "_probe"
    assert rows[0].created_at is not None


async def test_admins_read_the_log_newest_first_with_filters(journey_env: JourneyEnv) -> None:
    settings = auth_settings(journey_env.settings)
    admin = bearer(settings, Role.admin, subject="root")
    async with probe_client(settings) as api:
        for thing, subject in [("a", "erin"), ("b", "ed"), ("c", "erin")]:
            headers = bearer(settings, Role.editor, subject=subject)
            await api.post(f"/api/_probe/things/{thing}", headers=headers)
        await api.post("/api/_probe/things/k", headers={"Authorization": f"Bearer {API_KEY}"})

        page = (await api.get("/api/audit", headers=admin)).json()
        assert [item["resource_id"] for item in page["items"]] == ["k", "c", "b", "a"]
        assert page["total"] == 4
        assert page["items"][0]["actor"].startswith("api-key:")
        assert API_KEY[:4] not in page["items"][0]["actor"]

        erin = (await api.get("/api/audit", params={"actor": "erin"}, headers=admin)).json()
        assert [item["resource_id"] for item in erin["items"]] == ["c", "a"]

        second = await api.get("/api/audit", params={"limit": 1, "offset": 1}, headers=admin)
        assert [i["resource_id"] for i in second.json()["items"]] == ["c"]

        future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
        later = (await api.get("/api/audit", params={"since": future}, headers=admin)).json()
        assert later["items"] == [] and later["total"] == 0

        for role in (Role.editor, Role.operator, Role.viewer):
            response = await api.get("/api/audit", headers=bearer(settings, role))
            assert response.status_code == 403
        assert (await api.get("/api/audit")).status_code == 401


async def test_a_failing_audit_write_does_not_break_the_call(journey_env: JourneyEnv) -> None:
    settings = auth_settings(journey_env.settings)
    editor = bearer(settings, Role.editor)
    async with probe_client(settings) as api:
        with mock.patch("api.audit._write", side_effect=RuntimeError("database gone")):
            response = await api.post("/api/_probe/things/t-9", headers=editor)
    assert response.status_code == 200
    assert _rows(journey_env) == []

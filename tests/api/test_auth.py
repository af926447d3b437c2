"""Bearer auth on the gateway: 401 for anything not a valid token, 403 below the route's role."""

from __future__ import annotations

import logging
import time

import jwt
import pytest

from api.auth import Role
from tests.api.auth_helpers import (
    API_KEY,
    SECRET,
    auth_settings,
    bearer,
    expired,
    probe_client,
)
from tests.harness.env import JourneyEnv

ROLES = list(Role)


@pytest.mark.parametrize("have", ROLES, ids=[r.name for r in ROLES])
async def test_every_role_boundary(journey_env: JourneyEnv, have: Role) -> None:
    settings = auth_settings(journey_env.settings)
    async with probe_client(settings) as api:
        for need in ROLES:
            response = await api.get(f"/api/_probe/{need.name}", headers=bearer(settings, have))
            if have >= need:
                assert response.status_code == 200, (have, need, response.text)
            else:
                assert response.status_code == 403, (have, need, response.text)
                assert need.name in response.json()["detail"]


def test_roles_are_ordered() -> None:
    assert Role.viewer < Role.operator < Role.editor < Role.admin


def _forged(role: str | None, secret: str = SECRET, **claims: object) -> dict[str, str]:
    # Dated and short-lived like a real token, so only the flaw each case names is wrong.
    now = int(time.time())
    body: dict[str, object] = {"sub": "mallory", "iat": now, "exp": now + 300, **claims}
    if role is not None:
        body["role"] = role
    return {"Authorization": f"Bearer {jwt.encode(body, secret, algorithm='HS256')}"}


async def test_invalid_credentials_are_401_with_www_authenticate(
    journey_env: JourneyEnv,
) -> None:
    settings = auth_settings(journey_env.settings)
    cases = {
        "missing": {},
        "not bearer": {"Authorization": "Basic dXNlcjpwYXNz"},
        "garbage": {"Authorization": "Bearer not-a-jwt"},
        "expired": expired(settings),
        "wrong secret": _forged("admin", secret="another-secret-that-is-long-enough-xx"),
        "unknown role": _forged("superuser"),
        "no role": _forged(None),
        "alg none": {
            "Authorization": "Bearer "
            + jwt.encode({"sub": "m", "role": "admin", "exp": 4102444800}, None, algorithm="none")
        },
    }
    async with probe_client(settings) as api:
        for name, headers in cases.items():
            response = await api.get("/api/_probe/viewer", headers=headers)
            assert response.status_code == 401, (name, response.text)
            assert response.headers["www-authenticate"] == "Bearer", name
        response = await api.get("/api/_probe/viewer", headers=expired(settings))
        assert "expired" in response.json()["detail"]


async def test_api_key_maps_to_its_role(journey_env: JourneyEnv) -> None:
    settings = auth_settings(
        journey_env.settings, api_keys={API_KEY: "operator", "typo-key-000000": "root"}
    )
    async with probe_client(settings) as api:
        key = {"Authorization": f"Bearer {API_KEY}"}
        assert (await api.get("/api/_probe/operator", headers=key)).status_code == 200
        assert (await api.get("/api/_probe/editor", headers=key)).status_code == 403
        near = {"Authorization": f"Bearer {API_KEY}x"}
        assert (await api.get("/api/_probe/viewer", headers=near)).status_code == 401
        typo = {"Authorization": "Bearer typo-key-000000"}
        assert (await api.get("/api/_probe/viewer", headers=typo)).status_code == 401


async def test_health_and_docs_stay_public(journey_env: JourneyEnv) -> None:
    async with probe_client(auth_settings(journey_env.settings)) as api:
        assert (await api.get("/health")).status_code in (200, 503)
        assert (await api.get("/openapi.json")).status_code == 200
        assert (await api.get("/docs")).status_code == 200


async def test_auth_disabled_lets_everyone_in_and_warns(
    journey_env: JourneyEnv, caplog: pytest.LogCaptureFixture
) -> None:
    settings = auth_settings(journey_env.settings, auth_disabled=True, jwt_secret=None)
    with caplog.at_level(logging.WARNING, logger="api.auth"):
        async with probe_client(settings) as api:
            assert (await api.get("/api/_probe/admin")).status_code == 200
    assert any("authentication is DISABLED" in r.getMessage() for r in caplog.records)


async def test_no_secret_and_no_keys_starts_but_refuses_everything(
    journey_env: JourneyEnv, caplog: pytest.LogCaptureFixture
) -> None:
    settings = auth_settings(journey_env.settings, jwt_secret=None, api_keys={})
    with caplog.at_level(logging.WARNING, logger="api.auth"):
        async with probe_client(settings) as api:
            assert (await api.get("/health")).status_code in (200, 503)
            forged = _forged("admin")
            response = await api.get("/api/_probe/viewer", headers=forged)
            assert response.status_code == 401
            assert response.headers["www-authenticate"] == "Bearer"
    assert any("JOURNEY_JWT_SECRET" in r.getMessage() for r in caplog.records)

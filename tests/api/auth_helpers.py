"""Shared by the auth, rate-limit and audit tests: an app with one test route per role.

The routes are mounted by the tests only, so every role boundary is covered without depending
on which product routers exist yet.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx
from fastapi import APIRouter, FastAPI
from pydantic import SecretStr

from api.auth import Role, create_token, require_role
from api.main import create_app
from journey.core.config import Settings

SECRET = "test-secret-that-is-long-enough-for-hs256-0123456789"
API_KEY = "crm-key-0123456789abcdef"

probe = APIRouter(prefix="/api/_probe")
for _role in Role:

    @probe.get(f"/{_role.name}", dependencies=[require_role(_role)])
    async def _read(role: str = _role.name) -> dict[str, str]:
        return {"ok": role}


@probe.post("/things/{thing_id}", dependencies=[require_role(Role.editor)])
async def _mutate(thing_id: str) -> dict[str, str]:
    return {"id": thing_id}


@probe.delete("/things/{thing_id}", dependencies=[require_role(Role.editor)])
async def _fail(thing_id: str) -> dict[str, str]:  # noqa: ARG001 (FastAPI binds the path parameter by name)
    raise RuntimeError("boom")  # an unhandled error still leaves an audit row (status 500)


def auth_settings(base: Settings, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "jwt_secret": SecretStr(SECRET),
        "api_keys": {API_KEY: "operator"},
        "api_rate_limit_per_minute": 0,
    }
    values.update(overrides)
    return base.model_copy(update=values)


def bearer(settings: Settings, role: Role, subject: str = "alice", **kw: Any) -> dict[str, str]:
    token = create_token(settings, subject=subject, role=role, ttl=kw.get("ttl"))
    return {"Authorization": f"Bearer {token}"}


def expired(settings: Settings) -> dict[str, str]:
    return bearer(settings, Role.admin, ttl=timedelta(seconds=-5))


def app_with_probe(settings: Settings) -> FastAPI:
    app = create_app(settings)
    app.include_router(probe)
    return app


@asynccontextmanager
async def probe_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = app_with_probe(settings)
    async with app.router.lifespan_context(app):
        # raise_app_exceptions=False: answer 500 like a server would, not raise into the test.
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://journey") as client:
            yield client

"""An in-process client for the gateway: the real app, its real lifespan, real dependencies."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import httpx
import pytest

from api.main import create_app
from journey.core.config import Settings

ApiClientFactory = Callable[[Settings], AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
def api_client_for() -> ApiClientFactory:
    @asynccontextmanager
    async def open_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://journey") as client:
                yield client

    return open_client

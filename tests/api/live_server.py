"""The gateway on a real uvicorn server on 127.0.0.1, for tests that need real clients
(Server-Sent Events over httpx, WebSockets, the Temporal CLI calling the codec endpoint).

The server runs in the test's own event loop, so a test can also look at the tasks the
gateway leaves behind (asyncio.all_tasks) after a client goes away.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn

from api.main import create_app
from journey.core.config import Settings
from tests.harness.ports import free_port


@asynccontextmanager
async def serve_api(settings: Settings) -> AsyncIterator[str]:
    """Start the app with its lifespan; -> its base URL. Stopped (connections closed) on exit."""
    port = free_port()
    config = uvicorn.Config(
        create_app(settings),
        host="127.0.0.1",
        port=port,
        lifespan="on",
        log_level="warning",
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve(), name="test-uvicorn")
    try:
        while not server.started:
            if serving.done():
                await serving
                raise RuntimeError(f"uvicorn did not start on 127.0.0.1:{port}")
            await asyncio.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await serving

"""Serving the gateway with uvicorn (`journey api`), announcing readiness once it listens."""

from __future__ import annotations

import asyncio

import uvicorn

from api.main import create_app
from journey.config import Settings
from journey.runtime import announce_ready


async def serve(settings: Settings) -> None:
    config = uvicorn.Config(
        create_app(settings),
        host=settings.api_host,
        port=settings.api_port,
        log_level=settings.log_level.lower(),
        # JSON logs: uvicorn's own loggers go through the root handler (journey/telemetry).
        log_config=None if settings.log_format == "json" else uvicorn.config.LOGGING_CONFIG,
        lifespan="on",
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    while not server.started:
        if serving.done():
            await serving
            raise SystemExit(f"api: could not start on {settings.api_url}")
        await asyncio.sleep(0.05)
    announce_ready("api", settings.api_url)
    await serving


def main(settings: Settings) -> None:
    asyncio.run(serve(settings))

"""The one Temporal Client factory: every client in Journey carries the pydantic data converter."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from journey.config import Settings

DATA_CONVERTER = pydantic_data_converter


async def connect_client(settings: Settings, *, lazy: bool = False) -> Client:
    """Connect to the configured namespace; `lazy` defers the connection to the first call.

    The API uses a lazy client so it can start (and report Temporal as down in /health)
    while the Temporal server is unavailable.
    """
    return await Client.connect(
        settings.resolved_temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=DATA_CONVERTER,
        connect_timeout=timedelta(seconds=5),
        lazy=lazy,
    )


async def check_temporal(client: Client, timeout: float = 3.0) -> None:
    """Raise if the frontend does not answer a health check within `timeout` seconds."""
    ok = await client.service_client.check_health(timeout=timedelta(seconds=timeout))
    if not ok:
        raise RuntimeError("Temporal frontend reports NOT_SERVING")


async def connect_with_retry(settings: Settings, *, timeout: float | None = None) -> Client:
    """Connect, retrying while the server comes up (compose starts services in any order)."""
    deadline = asyncio.get_running_loop().time() + (timeout or settings.startup_timeout_seconds)
    while True:
        try:
            return await connect_client(settings)
        except RuntimeError:
            if asyncio.get_running_loop().time() >= deadline:
                raise
            await asyncio.sleep(0.5)

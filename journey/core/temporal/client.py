"""The one Temporal Client factory: every client in Journey carries the pydantic data converter."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import (
    DataConverter,
    DefaultFailureConverterWithEncodedAttributes,
    FailureConverter,
)
from temporalio.runtime import Runtime

from journey.core.config import Settings
from journey.core.telemetry.temporal import client_interceptors
from journey.core.temporal.codec import payload_codec

DATA_CONVERTER = pydantic_data_converter


def data_converter(settings: Settings) -> DataConverter:
    """DATA_CONVERTER, with the AES-GCM codec when payload keys are set
    (journey/core/temporal/codec.py).

    While encrypting, failure messages and stack traces are moved into an encoded payload as
    well: they can quote user data (an address a mail server refused, say).
    """
    codec = payload_codec(settings)
    if codec is None:
        return DATA_CONVERTER
    failures: type[FailureConverter] = (
        DefaultFailureConverterWithEncodedAttributes
        if codec.current
        else DATA_CONVERTER.failure_converter_class
    )
    return dataclasses.replace(
        DATA_CONVERTER, payload_codec=codec, failure_converter_class=failures
    )


async def connect_client(
    settings: Settings, *, lazy: bool = False, runtime: Runtime | None = None
) -> Client:
    """Connect to the configured namespace; `lazy` defers the connection to the first call.

    The API uses a lazy client so it can start (and report Temporal as down in /health)
    while the Temporal server is unavailable. With tracing on, the client (and every worker
    built on it) carries the SDK's tracing interceptor; `runtime` is the worker's metrics
    runtime (journey/core/telemetry/temporal.py).
    """
    return await Client.connect(
        settings.resolved_temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=data_converter(settings),
        connect_timeout=timedelta(seconds=5),
        lazy=lazy,
        interceptors=client_interceptors(settings),
        runtime=runtime,
    )


async def check_temporal(client: Client, timeout: float = 3.0) -> None:
    """Raise if the frontend does not answer a health check within `timeout` seconds."""
    ok = await client.service_client.check_health(timeout=timedelta(seconds=timeout))
    if not ok:
        raise RuntimeError("Temporal frontend reports NOT_SERVING")


async def connect_with_retry(
    settings: Settings, *, timeout: float | None = None, runtime: Runtime | None = None
) -> Client:
    """Connect, retrying while the server comes up (compose starts services in any order)."""
    deadline = asyncio.get_running_loop().time() + (timeout or settings.startup_timeout_seconds)
    while True:
        try:
            return await connect_client(settings, runtime=runtime)
        except RuntimeError:
            if asyncio.get_running_loop().time() >= deadline:
                raise
            await asyncio.sleep(0.5)

"""Dependency checks shared by `GET /health` and `journey dev --smoke`."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Literal

from pydantic import BaseModel
from sqlalchemy.engine import Engine
from temporalio.client import Client

from journey.core.config import Settings
from journey.core.db.engine import check_database
from journey.core.kafka.clients import check_kafka
from journey.core.temporal.client import check_temporal

CHECK_TIMEOUT_SECONDS = 3.0


class DependencyState(BaseModel):
    status: Literal["up", "down"]
    detail: str


class HealthReport(BaseModel):
    status: Literal["ok", "unavailable"]
    down: list[str]
    dependencies: dict[str, DependencyState]


async def _probe(check: Callable[[], Awaitable[str]]) -> DependencyState:
    try:
        detail = await asyncio.wait_for(check(), CHECK_TIMEOUT_SECONDS + 1)
    except Exception as exc:
        message = str(exc) or type(exc).__name__
        return DependencyState(status="down", detail=message.splitlines()[0][:300])
    return DependencyState(status="up", detail=detail)


async def check_dependencies(settings: Settings, engine: Engine, client: Client) -> HealthReport:
    async def database() -> str:
        await asyncio.to_thread(check_database, engine)
        return engine.url.render_as_string(hide_password=True)

    async def temporal() -> str:
        await check_temporal(client, CHECK_TIMEOUT_SECONDS)
        return f"{settings.resolved_temporal_address} namespace {settings.temporal_namespace}"

    async def kafka() -> str:
        topics = await asyncio.to_thread(check_kafka, settings, CHECK_TIMEOUT_SECONDS)
        missing = [t for t in settings.kafka_topics if t not in topics]
        if missing:
            raise RuntimeError(f"topics missing: {', '.join(missing)}")
        return settings.resolved_kafka_bootstrap

    names = ("database", "temporal", "kafka")
    states = await asyncio.gather(_probe(database), _probe(temporal), _probe(kafka))
    dependencies = dict(zip(names, states, strict=True))
    down = [name for name, state in dependencies.items() if state.status == "down"]
    return HealthReport(
        status="unavailable" if down else "ok", down=down, dependencies=dependencies
    )

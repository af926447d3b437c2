"""The one env fixture: `Settings` pointing at this session's test servers, plus handles to them.

Tests that drive Journey components (worker, ingest, API) should take their configuration from
`journey_env.settings` instead of the process environment, so a developer's `JOURNEY_*` variables
or `.env` file can never send a test to a real server. Settings are therefore built from explicit
keyword arguments only (`IsolatedSettings`, `_env_file=None`).

The database is a fresh SQLite file per test, migrated to head. The parametrised
SQLite/PostgreSQL fixture lives in tests/harness/database.py; tests that need both backends
use that fixture directly, so a test that only reads `journey_env.settings` never requires
PostgreSQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource
from temporalio.client import Client

from journey.core.config import Settings
from tests.harness.database import migrated_sqlite
from tests.harness.http_receiver import HttpReceiver
from tests.harness.smtp import SmtpCapture
from tests.harness.temporal import temporal_target


class IsolatedSettings(Settings):
    """Settings that read only their constructor arguments: no os.environ, no .env file.

    Plain `Settings(**kwargs)` would still let a developer's `JOURNEY_*` variables fill every
    field not passed, which could point a test at a real server.
    """

    # pydantic-settings passes the sources by keyword, so the unused ones keep their names.
    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],  # noqa: ARG003
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,  # noqa: ARG003
        dotenv_settings: PydanticBaseSettingsSource,  # noqa: ARG003
        file_secret_settings: PydanticBaseSettingsSource,  # noqa: ARG003
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


@dataclass(frozen=True)
class JourneyEnv:
    settings: Settings
    temporal_client: Client
    http_receiver: HttpReceiver
    smtp_server: SmtpCapture
    kafka_bootstrap: str
    data_dir: Path


def build_settings(
    *,
    data_dir: Path,
    temporal_address: str,
    task_queue: str,
    kafka_bootstrap: str,
    smtp_host: str,
    smtp_port: int,
    database_url: str | None = None,
    **overrides: Any,
) -> Settings:
    """Settings for a test that point only at the test servers and `data_dir`.

    Every other field keeps its code default; pass overrides for anything a test varies.
    """
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "database_url": database_url or f"sqlite:///{(data_dir / 'journey.db').as_posix()}",
        "temporal_address": temporal_address,
        "temporal_task_queue": task_queue,
        "kafka_bootstrap": kafka_bootstrap,
        "smtp_host": smtp_host,
        "smtp_port": smtp_port,
        "mail_dir": data_dir / "mail",
        "api_host": "127.0.0.1",
        "log_level": "DEBUG",
        # tansu holds a group join for half the session timeout; keep test joins short.
        "kafka_session_timeout_ms": 3000,
        "kafka_heartbeat_interval_ms": 1000,
        # The HTTP receiver listens on 127.0.0.1, which the webhook SSRF guard refuses.
        "webhook_allowlist": ["127.0.0.1"],
    }
    values.update(overrides)
    return IsolatedSettings(_env_file=None, **values)


@pytest.fixture
def journey_env(
    tmp_path: Path,
    temporal_client: Client,
    task_queue: str,
    kafka_bootstrap: str,
    smtp_server: SmtpCapture,
    http_receiver: HttpReceiver,
) -> JourneyEnv:
    """Settings + handles for one test: fresh task queue, fresh SQLite file, shared servers."""
    settings = build_settings(
        data_dir=tmp_path,
        temporal_address=temporal_target(temporal_client),
        task_queue=task_queue,
        kafka_bootstrap=kafka_bootstrap,
        smtp_host=smtp_server.host,
        smtp_port=smtp_server.port,
    )

    migrated_sqlite(settings.resolved_database_url)

    return JourneyEnv(
        settings=settings,
        temporal_client=temporal_client,
        http_receiver=http_receiver,
        smtp_server=smtp_server,
        kafka_bootstrap=kafka_bootstrap,
        data_dir=tmp_path,
    )

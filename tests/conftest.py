"""Registers the real-server test harness; see tests/harness/ for each server's fixtures.

Every system Journey integrates with is a real server on a free port: Temporal (dev server and
time-skipping server), a Kafka-protocol broker (tansu), SMTP (aiosmtpd), an HTTP receiver and the
databases. Plugins rather than imports so fixtures are discovered by name in every test module.
"""

import collections
from typing import Any

import pytest

from tests.harness.needs import REQUIRE_ENV, needed_resource, required_resources

pytest_plugins = [
    "tests.harness.temporal",
    "tests.harness.kafka",
    "tests.harness.smtp",
    "tests.harness.http_receiver",
    "tests.harness.database",
    "tests.harness.env",
]


# ---- what the run skipped, and why (tests/harness/needs.py) --------------------------------

# Skip reasons and how often each was met. In a run with xdist workers, the controller gets
# every worker's reports, so its counter holds the whole run.
_skips: collections.Counter[str] = collections.Counter()


def pytest_configure() -> None:
    required_resources()  # an unknown name in JOURNEY_TEST_REQUIRE stops the run at once


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped and isinstance(report.longrepr, tuple):
        _skips[str(report.longrepr[2]).removeprefix("Skipped: ")] += 1


def _refused() -> dict[str, int]:
    required = required_resources()
    return {reason: n for reason, n in _skips.items() if needed_resource(reason) in required}


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if exitstatus == pytest.ExitCode.OK and _refused():
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any) -> None:
    skips = _skips
    if not skips:
        return
    terminalreporter.section("skipped, by reason")
    for reason, count in skips.most_common():
        terminalreporter.write_line(f"{count:5d}  {reason}")
    if refused := _refused():
        terminalreporter.write_line(
            f"FAILED: {sum(refused.values())} skips name a resource this run must have "
            f"({REQUIRE_ENV}={','.join(sorted(required_resources()))})",
            red=True,
        )

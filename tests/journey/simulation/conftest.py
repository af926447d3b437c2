"""Simulations in tests: the product's `simulate`, each on its own time-skipping server.

`sim_settings` points every real destination at the harness's servers (the SMTP server, and the
HTTP receiver through the webhook allowlist), so a simulation that sent anything would show up
there; `run_simulation` validates a journey and runs it like the API and the CLI do.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from dsl.validation import validate_journey
from journey.contracts.runs import JourneySnapshot
from journey.core.config import Settings
from journey.simulation.models import Scenario, SimulationResult
from journey.simulation.runner import simulate
from tests.harness.env import build_settings
from tests.harness.http_receiver import HttpReceiver
from tests.harness.smtp import SmtpCapture

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
Simulate = Callable[..., Awaitable[SimulationResult]]


def example(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EXAMPLES / f"{name}.json").read_text())
    return data


def webhooks_to(document: dict[str, Any], url: str) -> dict[str, Any]:
    """The examples call public URLs; point them at the local receiver instead."""
    changed = copy.deepcopy(document)
    for node in changed["nodes"]:
        if node["type"] == "webhook":
            node["url"] = url
    return changed


def snapshot(document: dict[str, Any], journey_id: str = "j-sim") -> JourneySnapshot:
    checked = validate_journey(document)
    assert checked.document is not None, checked.problems
    return JourneySnapshot(journey_id=journey_id, version="1.0.0", document=checked.document)


@pytest.fixture
def sim_settings(
    tmp_path: Path,
    smtp_server: SmtpCapture,
    http_receiver: HttpReceiver,  # noqa: ARG001 (for its side effect: running, and reset per test)
) -> Settings:
    return build_settings(
        data_dir=tmp_path,
        temporal_address="127.0.0.1:9",  # a simulation never talks to the configured Temporal
        task_queue="unused",
        kafka_bootstrap="127.0.0.1:9",
        smtp_host=smtp_server.host,
        smtp_port=smtp_server.port,
    )


@pytest.fixture
def run_simulation(sim_settings: Settings) -> Simulate:
    async def run(
        document: dict[str, Any],
        scenario: dict[str, Any],
        *,
        sub_journeys: dict[str, dict[str, Any]] | None = None,
        settings: Settings | None = None,
    ) -> SimulationResult:
        subs = {key: snapshot(doc, key) for key, doc in (sub_journeys or {}).items()}
        return await simulate(
            snapshot(document),
            Scenario.model_validate(scenario),
            settings=settings or sim_settings,
            sub_journeys=subs,
        )

    return run

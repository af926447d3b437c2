"""The benchmark framework's own logic: result lines, the registry, percentiles, RESULTS.md,
waiting for a run's result. Timings never appear here; the scenarios themselves run with
`journey bench`."""

from __future__ import annotations

import json
import math

import pytest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from bench import core, registry
from bench.core import RESULT_ATTEMPTS, Registry, Result, Scenario, Size, percentile, settled
from bench.runner import Outcome, results_markdown
from tests.harness.env import JourneyEnv
from tests.harness.temporal import temporal_target


async def _nothing(_settings: object, _size: Size) -> list[Result]:
    return []


def _scenario(name: str) -> Scenario:
    size = Size(quick=True, n=1)
    return Scenario(name=name, description="d", run=_nothing, quick=size, full=size)


def test_a_result_line_has_the_agreed_keys_and_ratio_is_ours_over_baseline() -> None:
    line = json.loads(
        Result("s", ours=3.0, baseline=2.0, unit="x/s", n=10, notes={"db": "sqlite"}).json()
    )
    assert line == {
        "scenario": "s",
        "ours": 3.0,
        "baseline": 2.0,
        "ratio": 1.5,
        "unit": "x/s",
        "n": 10,
        "better": "higher",
        "notes": {"db": "sqlite"},
    }
    lower = Result("s", ours=5.0, baseline=10.0, unit="ms", n=1, better="lower", metric="p99")
    assert lower.line()["ratio"] == 0.5 and lower.line()["metric"] == "p99"
    assert Result("s", ours=1.0, baseline=0.0, unit="ms", n=1).ratio == math.inf


def test_the_registry_refuses_duplicates_and_names_the_known_scenarios() -> None:
    scenarios = Registry()
    scenarios.add(_scenario("a"))
    with pytest.raises(ValueError, match="registered twice"):
        scenarios.add(_scenario("a"))
    with pytest.raises(KeyError, match=r"unknown benchmark scenario 'b' \(known: a\)"):
        scenarios.get("b")


def test_loading_an_unknown_scenario_fails_before_anything_runs() -> None:
    with pytest.raises(KeyError, match="nope"):
        registry.load(["nope"])


def test_every_listed_scenario_module_defines_its_scenario() -> None:
    loaded = registry.load()
    assert [s.name for s in loaded] == list(registry.SCENARIO_MODULES)
    for scenario in loaded:
        assert scenario.quick.quick and not scenario.full.quick
        assert scenario.quick.n <= scenario.full.n


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile([7.0], 99) == 7.0
    with pytest.raises(ValueError):
        percentile([], 50)


def test_results_markdown_lists_every_result_and_every_error() -> None:
    ok = Outcome(_scenario("fast"), [Result("fast", 2.0, 1.0, "x/s", 5)], seconds=1.0)
    broken = Outcome(_scenario("broken"), [], seconds=0.5, error="RuntimeError: no server")
    text = results_markdown([ok, broken], quick=False, seconds=90)
    assert "| fast |  | 2.0 | 1.0 | **2.0** | x/s | higher | 5 |  |" in text
    assert "| broken | error |" in text and "RuntimeError: no server" in text
    assert "CPUs" in text


async def test_a_wait_the_server_fails_is_asked_again_and_a_missing_run_is_not(
    journey_env: JourneyEnv, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(core, "RESULT_PAUSE_SECONDS", 0.01)

    def asked_again() -> int:
        return len([r for r in caplog.records if r.getMessage().startswith("waiting for")])

    client = journey_env.temporal_client
    with pytest.raises(RPCError, match="not found") as missing_run:
        await settled(client.get_workflow_handle("no-such-run"))
    assert missing_run.value.status == RPCStatusCode.NOT_FOUND and asked_again() == 0
    # What the dev server answered when it lost its shard under steal, failing a full run of
    # observability_cost: the same error as for a namespace it does not have.
    elsewhere = await Client.connect(temporal_target(client), namespace="no-such-namespace")
    with pytest.raises(RPCError, match="Namespace no-such-namespace is not found"):
        await settled(elsewhere.get_workflow_handle("any"))
    assert asked_again() == RESULT_ATTEMPTS - 1

"""The one list of benchmark scenarios, in the order `journey bench` runs them.

Each module in bench/scenarios/ exposes `SCENARIO`; a name listed twice, a module without
`SCENARIO`, or a scenario asked for by a name not listed here fails loudly.
"""

from __future__ import annotations

import importlib

from bench.core import Registry, Scenario

SCENARIO_MODULES = (
    "journey_throughput",
    "kafka_start_rate",
    "api_start_latency",
    "validation_rate",
    "segment_eval",
    "timer_lateness",
    "parked_memory",
    "email_throttle",
    "observability_cost",
)


def load(names: list[str] | None = None) -> list[Scenario]:
    """The scenarios to run, in registry order: all of them, or the named ones.

    A scenario's name is its module's name; only the modules asked for are imported.
    """
    unknown = [name for name in names or [] if name not in SCENARIO_MODULES]
    if unknown:
        raise KeyError(
            f"unknown benchmark scenario(s) {', '.join(unknown)} "
            f"(known: {', '.join(SCENARIO_MODULES)})"
        )
    registry = Registry()
    for module_name in SCENARIO_MODULES:
        if names and module_name not in names:
            continue
        module = importlib.import_module(f"bench.scenarios.{module_name}")
        scenario = getattr(module, "SCENARIO", None)
        if not isinstance(scenario, Scenario) or scenario.name != module_name:
            raise TypeError(f"bench/scenarios/{module_name}.py must define SCENARIO named so")
        registry.add(scenario)
    return [registry.get(name) for name in registry.names()]

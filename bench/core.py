"""What every scenario shares: the result line, sizes, and the one registry of scenarios.

A scenario measures Journey ("ours") and a baseline side by side in one run on the same
servers and returns one `Result` per metric. `ratio` is always ours / baseline; `better` says
which direction is good, so a reader never has to guess whether 0.8 is a win.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from temporalio.client import WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode

from journey.core.config import Settings
from journey.ingest.failures import is_transient

log = logging.getLogger(__name__)

RESULT_ATTEMPTS = 5
RESULT_PAUSE_SECONDS = 1.0  # times the attempt number

Better = Literal["higher", "lower"]


@dataclass(frozen=True)
class Result:
    scenario: str
    ours: float
    baseline: float
    unit: str
    n: int
    better: Better = "higher"
    metric: str | None = None
    # What the numbers rest on (counts checked, database used, targets), printed with the line.
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        if self.baseline == 0:
            return math.inf if self.ours else 1.0
        return self.ours / self.baseline

    def line(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "scenario": self.scenario,
            "ours": _rounded(self.ours),
            "baseline": _rounded(self.baseline),
            "ratio": _rounded(self.ratio),
            "unit": self.unit,
            "n": self.n,
            "better": self.better,
        }
        if self.metric:
            data["metric"] = self.metric
        if self.notes:
            data["notes"] = self.notes
        return data

    def json(self) -> str:
        return json.dumps(self.line())


def _rounded(value: float) -> float:
    if math.isinf(value) or math.isnan(value):
        return value
    return float(f"{value:.4g}")


@dataclass(frozen=True)
class Size:
    """How big one scenario runs: `quick` (all scenarios in under 3 minutes) or `full`."""

    quick: bool
    n: int
    extra: dict[str, Any] = field(default_factory=dict)


Runner = Callable[[Settings, Size], Awaitable[Sequence[Result]]]


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    run: Runner
    quick: Size
    full: Size

    def size(self, quick: bool) -> Size:
        return self.quick if quick else self.full


class Registry:
    """Scenarios by name; registering a name twice or asking for an unknown one fails loudly."""

    def __init__(self) -> None:
        self._scenarios: dict[str, Scenario] = {}

    def add(self, scenario: Scenario) -> None:
        if scenario.name in self._scenarios:
            raise ValueError(f"benchmark scenario {scenario.name!r} registered twice")
        self._scenarios[scenario.name] = scenario

    def get(self, name: str) -> Scenario:
        try:
            return self._scenarios[name]
        except KeyError:
            known = ", ".join(self._scenarios)
            raise KeyError(f"unknown benchmark scenario {name!r} (known: {known})") from None

    def names(self) -> list[str]:
        return list(self._scenarios)


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by nearest rank; what p50/p99 mean in every scenario."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def _server_hiccup(exc: BaseException) -> bool:
    # A dev server short of CPU can lose its shard for a moment; its long polls then fail
    # with errors about the server, not the run, down to "Namespace default is not found".
    if not isinstance(exc, RPCError):
        return False
    return is_transient(exc) or (
        exc.status == RPCStatusCode.NOT_FOUND and "Namespace" in exc.message
    )


async def settled(handle: WorkflowHandle[Any, Any]) -> Any:
    """The run's result, asking again (up to RESULT_ATTEMPTS times) when the server, not the
    run, failed the wait: a run that ends is still counted, both sides the same way."""
    for attempt in range(1, RESULT_ATTEMPTS + 1):
        try:
            return await handle.result()
        except RPCError as exc:
            if attempt == RESULT_ATTEMPTS or not _server_hiccup(exc):
                raise
            log.warning("waiting for %s again after %r", handle.id, exc)
            await asyncio.sleep(RESULT_PAUSE_SECONDS * attempt)
    raise AssertionError("unreachable")

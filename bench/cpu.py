"""CPU time a scenario's side spends, by process: this one and the servers it started.

A journeys-per-second ratio says which side finished first, not where its time went. Both
sides run on the same servers, so the CPU each process spends during a side's legs says
whether a change moved cost off the Temporal server (fewer workflow tasks, activities and
visibility writes) or into the worker (local steps, payloads, the SDK's own work). On a shared
machine the numbers rise with its load like the rates do; they are for reading side by side
within one run, never for thresholds.

The bench process holds the driver, the receivers (SMTP, HTTP) and the side's worker; the
embedded servers are its child processes (`temporal`, the `tansu` broker). Servers named in
settings run elsewhere and are not counted.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager

import psutil

BENCH_PROCESS = "bench process"


def _label(process: psutil.Process) -> str:
    name = process.name().lower()
    if name.startswith("temporal"):
        return "temporal"
    if name.startswith("tansu"):
        return "kafka broker"
    return "other"


class CpuMeter:
    """CPU seconds (user + system) so far of this process and of its children at creation."""

    def __init__(self) -> None:
        me = psutil.Process()
        self._processes = [(BENCH_PROCESS, me)]
        self._processes += [(_label(child), child) for child in me.children(recursive=True)]

    def labels(self) -> dict[int, str]:
        """The label each counted process is read under, by process id."""
        return {process.pid: label for label, process in self._processes}

    def read(self) -> dict[str, float]:
        totals: dict[str, float] = defaultdict(float)
        for label, process in self._processes:
            try:
                times = process.cpu_times()
            except psutil.NoSuchProcess:
                continue  # a server that stopped: its time is no longer readable
            totals[label] += times.user + times.system
        return dict(totals)


class CpuLedger:
    """The CPU each side spent over its legs, per journey."""

    def __init__(self, meter: CpuMeter) -> None:
        self._meter = meter
        self._seconds: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        self._journeys: dict[str, int] = defaultdict(int)

    @contextmanager
    def leg(self, side: str, journeys: int) -> Iterator[None]:
        """Count the CPU spent inside the block as `side`'s, for `journeys` journeys."""
        before = self._meter.read()
        yield
        after = self._meter.read()
        for label in after:
            self._seconds[side][label] += after[label] - before.get(label, 0.0)
        self._journeys[side] += journeys

    def ms_per_journey(self) -> dict[str, dict[str, float]]:
        return {
            side: {
                label: round(1000 * seconds / self._journeys[side], 2)
                for label, seconds in sorted(self._seconds[side].items())
            }
            for side in self._journeys
        }

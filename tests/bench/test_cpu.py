"""The CPU accounting of the benchmarks: which processes it reads and how legs add up.

Only directions and bookkeeping are asserted (a busy process's time grows, a stopped one is
skipped, per-journey figures are totals over journeys); never how long anything took."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from bench.cpu import BENCH_PROCESS, CpuLedger, CpuMeter


def _spend_cpu(seconds: float) -> None:
    start = time.process_time()
    while time.process_time() - start < seconds:
        pass


@pytest.fixture
def child() -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        yield process
    finally:
        process.kill()
        process.wait()


def test_the_meter_reads_this_process_and_labels_its_children(
    child: subprocess.Popen[bytes],
) -> None:
    meter = CpuMeter()
    before = meter.read()
    _spend_cpu(0.1)
    after = meter.read()
    # psutil counts in clock ticks (10 ms here): a margin, not a timing bound.
    assert after[BENCH_PROCESS] - before[BENCH_PROCESS] >= 0.05
    labels = meter.labels()
    assert labels[os.getpid()] == BENCH_PROCESS
    # Neither a Temporal server nor the broker: counted apart from both.
    assert labels[child.pid] == "other"
    # A process started after the meter is not one of the stack's servers.
    later = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert later.pid not in meter.labels()
    finally:
        later.kill()
        later.wait()


def test_a_stopped_child_is_skipped_not_an_error(child: subprocess.Popen[bytes]) -> None:
    meter = CpuMeter()
    assert child.pid in meter.labels()
    child.kill()
    child.wait()
    assert BENCH_PROCESS in meter.read()


class _FixedMeter(CpuMeter):
    """Readings given in advance, so the ledger's arithmetic is checked exactly."""

    def __init__(self, readings: list[dict[str, float]]) -> None:
        self._readings = iter(readings)

    def read(self) -> dict[str, float]:
        return next(self._readings)


def test_the_ledger_adds_each_sides_legs_and_divides_by_its_journeys() -> None:
    meter = _FixedMeter(
        [
            {"temporal": 1.0, BENCH_PROCESS: 2.0},
            {"temporal": 2.0, BENCH_PROCESS: 2.5},  # ours 10
            {"temporal": 2.0, BENCH_PROCESS: 2.5},
            {"temporal": 5.0, BENCH_PROCESS: 4.5},  # base 10
            {"temporal": 5.0, BENCH_PROCESS: 4.5},
            {"temporal": 6.0, BENCH_PROCESS: 6.5},  # ours 10
        ]
    )
    ledger = CpuLedger(meter)
    for side in ("ours", "baseline", "ours"):
        with ledger.leg(side, 10):
            pass
    assert ledger.ms_per_journey() == {
        "ours": {BENCH_PROCESS: 125.0, "temporal": 100.0},
        "baseline": {BENCH_PROCESS: 200.0, "temporal": 300.0},
    }

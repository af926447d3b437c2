"""The package map is enforced, not described: import-linter's contracts in pyproject.toml
(`make lint` runs them) fail when a module imports from a layer above its own."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("journey", "dsl", "workflows", "activities", "api")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _checkout_copy(target: Path) -> Path:
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package, target / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(ROOT / "pyproject.toml", target / "pyproject.toml")
    shutil.copy(ROOT / "worker.py", target / "worker.py")
    return target


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=tree,
        env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_layers_hold_and_breaking_one_fails(tmp_path: Path) -> None:
    tree = _checkout_copy(tmp_path)
    kept = _lint(tree)
    assert kept.returncode == 0, kept.stdout + kept.stderr

    service = tree / "journey" / "services" / "definitions.py"
    service.write_text(service.read_text() + "\nimport api.deps  # a service reaching up\n")
    broken = _lint(tree)
    assert broken.returncode == 1
    assert "journey.services is not allowed to import api" in broken.stdout


def test_a_cycle_between_siblings_fails(tmp_path: Path) -> None:
    tree = _checkout_copy(tmp_path)
    lower = tree / "journey" / "core" / "ledger.py"
    lower.write_text(lower.read_text() + "\nimport journey.core.telemetry.logs\n")
    logs = tree / "journey" / "core" / "telemetry" / "logs.py"
    logs.write_text(logs.read_text() + "\nimport journey.core.ledger\n")
    broken = _lint(tree)
    assert broken.returncode == 1
    assert "No cycles are allowed in journey.core" in broken.stdout

"""`journey diagram FILE`, run as a user would (subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.dsl.mermaid import parse

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "journey"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, cwd=ROOT, timeout=60)


def test_prints_the_mermaid_flowchart() -> None:
    result = run("diagram", "examples/referral.json")
    assert result.returncode == 0, result.stderr
    diagram = parse(result.stdout)
    document = json.loads((ROOT / "examples" / "referral.json").read_text())
    assert {node["id"] for node in document["nodes"]} <= set(diagram.by_journey_id())


def test_fence_wraps_it_for_markdown() -> None:
    result = run("diagram", "--fence", "examples/winback_ab.json")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "```mermaid" and lines[-1] == "```"
    parse("\n".join(lines[1:-1]) + "\n")


def test_invalid_and_unreadable_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(
            {
                "name": "x",
                "start": "a",
                "nodes": [{"id": "a", "type": "end"}, {"id": "a", "type": "end"}],
            }
        )
    )
    invalid = run("diagram", str(bad))
    assert invalid.returncode == 1
    assert invalid.stdout == ""
    assert f"{bad}: /nodes/1/id duplicate_id:" in invalid.stderr
    absent = run("diagram", str(tmp_path / "absent.json"))
    assert absent.returncode == 2
    assert "no such file" in absent.stderr and "Traceback" not in absent.stderr

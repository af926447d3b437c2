"""`journey validate` and `journey schema`, run as a user would (subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from dsl.nodes import NODE_TYPES

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "journey"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, cwd=ROOT, timeout=60)


def test_validate_good_file() -> None:
    result = run("validate", "examples/referral.json", "examples/winback_ab.json")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "examples/referral.json: ok",
        "examples/winback_ab.json: ok",
    ]


def test_validate_bad_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(
            {
                "name": "x",
                "start": "a",
                "nodes": [
                    {
                        "id": "a",
                        "type": "email",
                        "to": "x",
                        "subject": "s",
                        "text": "t",
                        "next": "b",
                    }
                ],
            }
        )
    )
    result = run("validate", "examples/referral.json", str(bad))
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        "examples/referral.json: ok",
        f"{bad}: /nodes/0 no_path_to_end: no `end` node can be reached from 'a'",
        f"{bad}: /nodes/0/next dangling_transition: transition names 'b', which is not a node id",
    ]


def test_validate_missing_or_not_json(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    result = run("validate", str(tmp_path / "absent.json"), str(broken), "examples/referral.json")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert f"{tmp_path / 'absent.json'}: error: no such file" in result.stderr
    assert f"{broken}: error: not JSON" in result.stderr
    assert "examples/referral.json: ok" in result.stdout


def test_schema_lists_every_node_type() -> None:
    result = run("schema")
    assert result.returncode == 0, result.stderr
    schema = json.loads(result.stdout)
    assert schema["title"] == "JourneyDocument"
    types = {
        definition["properties"]["type"]["const"]
        for definition in schema["$defs"].values()
        if "const" in definition.get("properties", {}).get("type", {})
    }
    assert types == NODE_TYPES
    assert "from" in schema["$defs"]["EmailNode"]["properties"]

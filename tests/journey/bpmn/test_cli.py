"""`journey import-bpmn` and `journey export-bpmn`, run as a user would (subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from dsl.validation import validate_journey
from journey.bpmn.canonical import equivalent
from tests.journey.bpmn.helpers import START, chain, document

ROOT = Path(__file__).resolve().parents[3]
CLI = [sys.executable, "-m", "journey"]
WELCOME = "examples/bpmn/welcome.bpmn"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, cwd=ROOT, timeout=60)


def test_import_prints_the_journey_and_the_suggested_trigger() -> None:
    result = run("import-bpmn", WELCOME)
    assert result.returncode == 0, result.stderr
    journey = json.loads(result.stdout)
    assert validate_journey(journey).ok
    assert journey["name"] == "Welcome (from BPMN)"
    assert result.stderr.strip() == f'{WELCOME}: suggested trigger: {{"event_type": "signup"}}'


def test_import_prints_every_problem_with_its_element(tmp_path: Path) -> None:
    bad = tmp_path / "bad.bpmn"
    body = START + '<bpmn:userTask id="approve" /><bpmn:endEvent id="done"/>'
    bad.write_text(document(body + chain("start", "approve", "done")))
    result = run("import-bpmn", str(bad))
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        f"{bad}: approve (bpmn:userTask) unsupported_element: Journey runs without people: "
        "there is no task list to assign work to; wait for the event that says the work is "
        "done (a receive task) instead"
    ]


def test_import_refuses_unsafe_or_unreadable_files(tmp_path: Path) -> None:
    unsafe = tmp_path / "xxe.bpmn"
    unsafe.write_text('<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><d>&x;</d>')
    result = run("import-bpmn", str(unsafe))
    assert result.returncode == 2
    assert f"{unsafe}: error: xml_dtd_forbidden:" in result.stderr
    assert "root:" not in result.stdout + result.stderr
    missing = run("import-bpmn", str(tmp_path / "absent.bpmn"))
    assert missing.returncode == 2
    assert "no such file" in missing.stderr
    assert "Traceback" not in missing.stderr + result.stderr


def test_export_then_import_gives_the_journey_back(tmp_path: Path) -> None:
    target = tmp_path / "referral.bpmn"
    exported = run("export-bpmn", "examples/referral.json", "--output", str(target))
    assert exported.returncode == 0, exported.stderr
    assert exported.stdout == ""
    assert target.read_text().startswith("<?xml")
    imported = run("import-bpmn", str(target))
    assert imported.returncode == 0, imported.stdout + imported.stderr
    original = validate_journey(json.loads((ROOT / "examples" / "referral.json").read_text()))
    back = validate_journey(json.loads(imported.stdout))
    assert original.document is not None and back.document is not None
    assert equivalent(original.document, back.document)


def test_export_reports_an_invalid_journey(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text(
        json.dumps({"name": "x", "start": "nowhere", "nodes": [{"id": "e", "type": "end"}]})
    )
    result = run("export-bpmn", str(broken))
    assert result.returncode == 1
    assert f"{broken}: /start missing_start: no node has id 'nowhere'" in result.stdout
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{nope")
    assert run("export-bpmn", str(garbage)).returncode == 2

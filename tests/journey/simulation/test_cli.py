"""`journey simulate FILE --user USER.json --events EVENTS.json`, run as a user would.

The process gets no Journey servers at all (every address is port 9 of localhost): a
simulation needs none and must reach none.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]
CLI = [sys.executable, "-m", "journey"]
NOWHERE = {
    "JOURNEY_TEMPORAL_ADDRESS": "127.0.0.1:9",
    "JOURNEY_KAFKA_BOOTSTRAP": "127.0.0.1:9",
    "JOURNEY_SMTP_HOST": "127.0.0.1",
    "JOURNEY_SMTP_PORT": "9",
    "JOURNEY_DATABASE_URL": "sqlite:////nonexistent/journey.db",
}


def run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **NOWHERE}
    return subprocess.run(
        [*CLI, "simulate", *args], capture_output=True, text=True, cwd=ROOT, timeout=90, env=env
    )


def write(path: Path, data: Any) -> str:
    path.write_text(json.dumps(data))
    return str(path)


def test_prints_the_timeline_with_rendered_messages(tmp_path: Path) -> None:
    user = write(
        tmp_path / "user.json",
        {"id": "ada", "email": "ada@example.com", "attributes": {"first_name": "Ada"}},
    )
    events = write(tmp_path / "events.json", [{"at": "P2D", "type": "activated"}])
    result = run("examples/onboarding_activation.json", "--user", user, "--events", events)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Onboarding activation for ada: simulated up to P90D" in out
    assert "email would be sent to ada@example.com: 'Ada, your workspace is waiting'" in out
    assert "Hi Ada, finish setting up your workspace" in out
    assert "event activated arrives" in out
    assert out.splitlines()[-1].startswith("completed: outcome activated")
    assert "Traceback" not in result.stderr


def test_json_output_and_a_failed_run(tmp_path: Path) -> None:
    user = write(tmp_path / "user.json", {"id": "ada", "email": "ada@example.com"})
    # No entry event: the CRM webhook's {{ event.timestamp }} cannot render; exit 1.
    result = run("examples/onboarding_activation.json", "--user", user, "--json")
    assert result.returncode == 1, result.stderr
    answer = json.loads(result.stdout)
    assert answer["status"] == "failed"
    assert "event.timestamp" in answer["error"]

    entry = write(tmp_path / "entry.json", {"type": "signup"})
    ok = run("examples/onboarding_activation.json", "--user", user, "--entry", entry, "--json")
    assert ok.returncode == 0, ok.stderr
    crm = next(e for e in json.loads(ok.stdout)["timeline"] if e["node_id"] == "tell_crm")
    assert crm["effect"]["details"]["url"] == "https://crm.example.com/hooks/stalled-onboarding"


def test_every_input_problem_is_printed_and_nothing_runs(tmp_path: Path) -> None:
    user = write(tmp_path / "user.json", {"email": 3, "attributes": []})
    events = write(tmp_path / "events.json", [{"at": "P1D"}, {"at": "later", "type": "x"}])
    result = run("examples/onboarding_activation.json", "--user", user, "--events", events)
    assert result.returncode == 2
    assert result.stdout == ""
    errors = result.stderr.splitlines()
    assert f"{user}: /email string_type: Input should be a valid string" in errors
    assert any(line.startswith(f"{user}: /attributes dict_type:") for line in errors)
    assert any(line.startswith(f"{events}: /0/type missing:") for line in errors)
    assert any(line.startswith(f"{events}: /1/at ") for line in errors)

    fine_user = write(tmp_path / "fine.json", {"id": "ada"})
    late = write(tmp_path / "late.json", [{"at": "P200D", "type": "x"}])
    result = run("examples/onboarding_activation.json", "--user", fine_user, "--events", late)
    assert result.returncode == 2
    assert result.stderr.startswith(f"{late}: /0/at after_horizon: P200D is after the horizon")


def test_unreadable_files_and_invalid_journeys(tmp_path: Path) -> None:
    user = write(tmp_path / "user.json", {"id": "ada"})
    absent = run("examples/onboarding_activation.json", "--user", str(tmp_path / "nope.json"))
    assert absent.returncode == 2
    assert f"{tmp_path / 'nope.json'}: error: no such file" in absent.stderr
    bad = write(
        tmp_path / "bad.json",
        {"name": "x", "start": "nowhere", "nodes": [{"id": "a", "type": "end"}]},
    )
    invalid = run(bad, "--user", user)
    assert invalid.returncode == 2
    assert f"{bad}: /start missing_start:" in invalid.stderr
    horizon = run("examples/onboarding_activation.json", "--user", user, "--horizon", "soon")
    assert horizon.returncode == 2
    assert horizon.stderr.startswith("--horizon: / ")

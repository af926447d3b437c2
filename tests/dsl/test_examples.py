"""The bundled examples are the reference shape of the DSL: each must validate cleanly."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from dsl.document import JourneyDocument
from dsl.validation import validate_journey

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.json"))


def test_there_are_examples() -> None:
    assert len(EXAMPLES) >= 5


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_validates_without_problems(path: Path) -> None:
    result = validate_journey(json.loads(path.read_text()))
    assert result.problems == []
    assert isinstance(result.document, JourneyDocument)
    assert result.document.name
    assert result.document.lifecycle_stages


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_round_trips_through_json(path: Path) -> None:
    document = JourneyDocument.model_validate(json.loads(path.read_text()))
    dumped = document.model_dump(mode="json", by_alias=True, exclude_none=True)
    assert JourneyDocument.model_validate(dumped) == document
    assert validate_journey(dumped).problems == []


def test_durations_serialise_as_iso_8601() -> None:
    data = json.loads((ROOT / "examples" / "abandoned_cart.json").read_text())
    dumped = JourneyDocument.model_validate(data).model_dump(mode="json")
    assert dumped["nodes"][0]["timeout"] == "PT2H"
    assert dumped["nodes"][2]["timeout"] == "P1D"


@pytest.mark.parametrize(
    "modules", ["dsl.document, dsl.conditions, dsl.nodes, dsl.durations, dsl, dsl.graph"]
)
def test_workflow_side_modules_do_not_import_jinja2(modules: str) -> None:
    code = f"import {modules}, sys; assert 'jinja2' not in sys.modules, 'jinja2 imported'"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_dsl_imports_no_infrastructure() -> None:
    code = (
        "import dsl.document, dsl.validation, dsl.schema, sys;"
        "bad = {'httpx', 'sqlmodel', 'sqlalchemy', 'confluent_kafka', 'temporalio', 'journey'}"
        " & set(sys.modules); assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)

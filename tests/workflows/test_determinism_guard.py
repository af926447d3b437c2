"""workflows/ stays deterministic: it never imports I/O libraries or the settings module, and
its node registry covers exactly the DSL's node types."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from dsl.nodes import NODE_TYPES, EmailNode, EndNode
from workflows.context import RunContext
from workflows.registry import (
    NODE_HANDLERS,
    NodeHandler,
    UnknownNodeType,
    build_registry,
    handler_for,
)

ROOT = Path(__file__).resolve().parents[2]
BANNED = ("httpx", "sqlmodel", "sqlalchemy", "confluent_kafka", "jinja2", "journey")
# What workflows/ may import from the project: itself, the pure DSL and the shared contracts.
PROJECT_ALLOWED = ("workflows", "dsl", "journey.contracts")


def banned(name: str) -> bool:
    """An I/O library, or any of journey but its pure contracts (and the package itself)."""
    if name == "journey" or name == "journey.contracts" or name.startswith("journey.contracts."):
        return False
    return name.split(".")[0] in BANNED


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_no_workflow_module_imports_io_libraries_or_settings() -> None:
    offenders = []
    for path in sorted((ROOT / "workflows").rglob("*.py")):
        for name in imported_modules(path):
            top = name.split(".")[0]
            if banned(name):
                offenders.append(f"{path.relative_to(ROOT)}: {name}")
            if top in ("activities", "api", "worker") and not name.startswith(PROJECT_ALLOWED):
                offenders.append(f"{path.relative_to(ROOT)}: {name}")
    assert offenders == []


def test_importing_every_workflow_module_loads_no_banned_module() -> None:
    # Transitive imports count too (dsl/, journey/contracts/), so check a fresh interpreter.
    script = (
        "import importlib, pkgutil, sys, workflows\n"
        "for m in pkgutil.walk_packages(workflows.__path__, 'workflows.'):\n"
        "    importlib.import_module(m.name)\n"
        "print('\\n'.join(sorted(sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    loaded = result.stdout.split()
    assert "workflows.journey" in loaded
    assert [name for name in loaded if banned(name) or name == "pydantic_settings"] == []


def test_the_guard_allows_contracts_and_nothing_else_of_journey() -> None:
    assert not banned("journey.contracts.actions")
    assert banned("journey.core.config")
    assert banned("journey.services.users")
    assert banned("journey.contractsx")


def test_the_guard_sees_a_banned_import(tmp_path: Path) -> None:
    module = tmp_path / "bad.py"
    module.write_text(
        "import httpx\nfrom jinja2 import Template\nfrom journey.core.config import x\n"
    )
    assert imported_modules(module) == {"httpx", "jinja2", "journey.core.config"}


def test_registry_covers_exactly_the_dsl_node_types() -> None:
    assert set(NODE_HANDLERS) == set(NODE_TYPES)


def test_registry_fails_loudly() -> None:
    with pytest.raises(ValueError, match="registered twice"):
        build_registry([NODE_HANDLERS["end"], NODE_HANDLERS["end"]])
    with pytest.raises(UnknownNodeType, match="teleport"):
        handler_for("teleport")


class _OwnEndNode(EndNode):
    """Claims the `end` type, but the DSL never parses a node into it."""


async def _end_here(_node: _OwnEndNode, _ctx: RunContext) -> str | None:
    return None


def test_registry_refuses_a_handler_of_another_model_than_the_dsls() -> None:
    with pytest.raises(ValueError, match="takes _OwnEndNode, but the DSL has EndNode"):
        build_registry([NodeHandler(_OwnEndNode, _end_here)])


async def test_a_handler_refuses_a_node_of_another_type() -> None:
    email = EmailNode(id="welcome", to="a@example.com", subject="hi", text="hi")
    with pytest.raises(TypeError, match="'end' handler takes EndNode, not EmailNode"):
        # The model check comes before the context is used, so none is needed.
        await NODE_HANDLERS["end"](email, None)  # type: ignore[arg-type]

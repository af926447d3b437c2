"""The README and docs/ stay true to the code they describe.

Docs rot silently: a renamed CLI flag, a new setting nobody listed, a moved page. These checks
read the Markdown statically (no servers), so they fail in `make test` instead of in front of a
reader.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import typer

from journey.cli import app
from journey.core.config import Settings

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^\s*```")
LINK = re.compile(r"\]\(([^)\s]+)\)")
SETTING_ROW = re.compile(r"^\| `JOURNEY_([A-Z0-9_]+)` \|", re.MULTILINE)


def prose(text: str) -> str:
    """The text outside fenced code blocks (a link or heading inside one is not one)."""
    kept, fenced = [], False
    for line in text.splitlines():
        if FENCE.match(line):
            fenced = not fenced
        elif not fenced:
            kept.append(line)
    return "\n".join(kept)


def code_lines(text: str) -> list[str]:
    """Lines of shell code blocks."""
    lines, language = [], None
    for line in text.splitlines():
        if FENCE.match(line):
            language = line.strip()[3:] if language is None else None
        elif language == "sh":
            lines.append(line)
    return lines


def anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    return {
        anchor(line.lstrip("#"))
        for line in prose(page.read_text()).splitlines()
        if re.match(r"#{1,6} ", line)
    }


def test_readme_is_short_and_starts_with_the_two_commands() -> None:
    lines = README.read_text().splitlines()
    assert len(lines) <= 150
    head = "\n".join(lines[:8])
    assert "make run" in head
    assert "make test" in head


def resolves(destination: Path, fragment: str) -> bool:
    if not destination.exists():
        return False
    return not fragment or destination.suffix != ".md" or fragment in anchors(destination)


@pytest.mark.parametrize("page", PAGES, ids=[page.name for page in PAGES])
def test_relative_links_resolve(page: Path) -> None:
    broken = []
    for target in LINK.findall(prose(page.read_text())):
        if re.match(r"[a-z]+:", target):
            continue
        path, _, fragment = target.partition("#")
        destination = (page.parent / path).resolve() if path else page
        if not resolves(destination, fragment):
            broken.append(target)
    assert broken == []


def test_every_setting_has_a_row_in_the_operations_table() -> None:
    documented = set(SETTING_ROW.findall((ROOT / "docs" / "operations.md").read_text()))
    settings = {name.upper() for name in Settings.model_fields}
    assert sorted(settings - documented) == [], "settings without a row in docs/operations.md"
    assert sorted(documented - settings) == [], "rows for settings that do not exist"


def journey_invocations() -> list[tuple[str, list[str]]]:
    """Every `.venv/bin/journey ...` command in the docs, as (page, arguments)."""
    found = []
    for page in PAGES:
        for line in code_lines(page.read_text()):
            for match in re.finditer(r"\.venv/bin/journey((?: [^#|;)>]*)?)", line):
                found.append((page.name, shlex.split(match.group(1))))
    return found


@pytest.mark.parametrize("page,args", journey_invocations())
def test_journey_commands_and_options_exist(page: str, args: list[str]) -> None:
    # Typer vendors its own click, so groups are recognised by their subcommands.
    command: Any = typer.main.get_command(app)
    words = list(args)
    while hasattr(command, "commands") and words and not words[0].startswith("-"):
        name = words.pop(0)
        assert name in command.commands, f"{page}: no command {name!r}"
        command = command.commands[name]
    options = {opt for param in command.params for opt in param.opts}
    options |= {opt for param in command.params for opt in getattr(param, "secondary_opts", [])}
    for word in words:
        if word.startswith("-"):
            assert word.split("=")[0] in options, f"{page}: {command.name} has no {word}"

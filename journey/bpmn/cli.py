"""`journey import-bpmn` and `journey export-bpmn`: the BPMN mapping on files, no server needed.

Exit codes follow `journey validate`: 0 done, 1 the input has problems (each printed on its own
line, with the BPMN element for an import), 2 the file cannot be read (or is unsafe XML).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

Output = Annotated[
    Path | None, typer.Option("--output", "-o", help="Write here instead of standard output.")
]


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        typer.echo(f"{path}: error: no such file", err=True)
    except OSError as exc:
        typer.echo(f"{path}: error: cannot read: {exc}", err=True)
    raise typer.Exit(2)


def _write(text: str, output: Path | None) -> None:
    if output is None:
        typer.echo(text, nl=not text.endswith("\n"))
    else:
        output.write_text(text, encoding="utf-8")


def import_bpmn_command(
    file: Annotated[Path, typer.Argument(help="A BPMN 2.0 file (e.g. from Camunda Modeler).")],
    output: Output = None,
) -> None:
    """Print the journey a BPMN file maps to (JSON), or every problem with it."""
    from journey.bpmn import BpmnSyntaxError, import_bpmn
    from journey.bpmn.canonical import document_json

    try:
        result = import_bpmn(_read(file))
    except BpmnSyntaxError as exc:
        typer.echo(f"{file}: error: {exc.code}: {exc.message}", err=True)
        raise typer.Exit(2) from None
    if result.document is None or result.problems:
        for problem in result.problems:
            typer.echo(f"{file}: {problem}")
        raise typer.Exit(1)
    _write(json.dumps(document_json(result.document), indent=2, ensure_ascii=False), output)
    if result.suggested_trigger is not None:
        trigger = json.dumps(result.suggested_trigger, ensure_ascii=False)
        typer.echo(f"{file}: suggested trigger: {trigger}", err=True)


def export_bpmn_command(
    file: Annotated[Path, typer.Argument(help="A journey (JSON).")],
    output: Output = None,
) -> None:
    """Print a journey as BPMN 2.0 XML with diagram coordinates, for any BPMN modeler."""
    from dsl.validation import validate_journey
    from journey.bpmn import export_bpmn

    try:
        data = json.loads(_read(file))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        typer.echo(f"{file}: error: not JSON: {exc}", err=True)
        raise typer.Exit(2) from None
    result = validate_journey(data)
    if result.document is None:
        for problem in result.problems:
            typer.echo(f"{file}: {problem.path or '/'} {problem.code}: {problem.message}")
        raise typer.Exit(1)
    _write(export_bpmn(result.document), output)

"""`journey simulate FILE --user USER.json --events EVENTS.json`: the timeline, printed.

Input problems (a file that is missing or not JSON, an invalid journey, a user or events that
do not fit) are printed as `FILE: /json/pointer code: message`, every one of them, and exit 2:
nothing was simulated. Otherwise the timeline is printed (or the whole answer as JSON with
`--json`) and the exit code says how the run ended: 0 completed or still waiting at the
horizon, 1 failed or stopped by the real-time limit.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

if TYPE_CHECKING:  # every `journey` command imports this module: keep it light
    from dsl.problems import Problem
    from journey.simulation.models import SimulationResult, TimelineEntry

__all__ = ["read_json", "simulate_command"]


class Unreadable(Exception):
    pass


def read_json(path: Path) -> Any:
    """The parsed file, or Unreadable with the message `journey validate` prints."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise Unreadable(f"{path}: error: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise Unreadable(f"{path}: error: cannot read: {exc}") from None
    except json.JSONDecodeError as exc:
        raise Unreadable(f"{path}: error: not JSON: {exc}") from None


def _report(path: Path | str, problems: list[Problem]) -> None:
    for problem in problems:
        typer.echo(f"{path}: {problem.path or '/'} {problem.code}: {problem.message}", err=True)


def _sub_journeys(pairs: list[str], problems: list[str]) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for pair in pairs:
        journey_id, sep, file = pair.partition("=")
        if not sep or not journey_id or not file:
            problems.append(f"--sub-journey {pair!r}: expected ID=FILE")
            continue
        found[journey_id] = Path(file)
    return found


def _indent(text: str) -> str:
    return "\n".join(f"        {line}" for line in text.splitlines())


def _effect_lines(entry: TimelineEntry) -> str | None:
    effect = entry.effect
    if effect is None or effect.outcome == "failed":
        return None
    d = effect.details
    if effect.action == "email" and effect.outcome == "sent":
        body = d.get("text") or d.get("html") or ""
        return _indent(f"to: {d.get('to')}\nsubject: {d.get('subject')}\n{body.rstrip()}")
    if effect.action == "webhook" and "body" in d:
        return _indent(json.dumps(d["body"], indent=2))
    if effect.action == "emit_event":
        return _indent(json.dumps(d.get("event", {}).get("properties"), indent=2))
    return None


def print_timeline(result: SimulationResult, title: str) -> None:
    typer.echo(f"{title}: simulated up to {result.horizon}")
    rows = [(f"+{e.offset}", e.node_id or f"({e.kind})", e) for e in result.timeline]
    when_width = max(len(when) for when, _, _ in rows)
    where_width = max(len(where) for _, where, _ in rows)
    for when, where, entry in rows:
        run = "" if entry.run == "main" else f" [{entry.run}]"
        typer.echo(f"  {when:<{when_width}}  {where:<{where_width}}  {entry.summary}{run}")
        details = _effect_lines(entry)
        if details:
            typer.echo(details)
    counts = ", ".join(f"{name} {count}" for name, count in sorted(result.effects.items()))
    typer.echo(
        f"{result.status}"
        + (f": outcome {result.outcome}" if result.outcome else "")
        + (f" · would have done: {counts}" if counts else "")
    )


def simulate_command(
    file: Annotated[Path, typer.Argument(help="The journey (JSON) to simulate.")],
    user: Annotated[Path, typer.Option("--user", help="The user's profile (JSON).")],
    events: Annotated[
        Path | None,
        typer.Option("--events", help='Future events (JSON list of {"at": "P3D", "type": ...}).'),
    ] = None,
    entry: Annotated[
        Path | None, typer.Option("--entry", help="The event the run starts with (JSON).")
    ] = None,
    horizon: Annotated[
        str, typer.Option(help="How far to run the virtual clock (ISO 8601 or seconds).")
    ] = "P90D",
    sub_journey: Annotated[
        list[str] | None,
        typer.Option("--sub-journey", help="ID=FILE for a sub_journey node's journey; repeatable."),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the whole answer as JSON.")
    ] = False,
) -> None:
    """Run a journey for a user and a timeline of future events, sending nothing."""
    from dsl.validation import validate_journey
    from journey.contracts.runs import JourneySnapshot
    from journey.core.config import get_settings
    from journey.simulation.inputs import parse_model, scenario_problems
    from journey.simulation.models import Scenario
    from journey.simulation.runner import simulate

    failures: list[str] = []
    sub_files = _sub_journeys(sub_journey or [], failures)
    loaded: dict[Path, Any] = {}
    for path in [file, user, *(p for p in (events, entry) if p), *sub_files.values()]:
        try:
            loaded[path] = read_json(path)
        except Unreadable as exc:
            failures.append(str(exc))
    for failure in failures:
        typer.echo(failure, err=True)
    if failures:
        raise typer.Exit(2)

    bad = False
    snapshots: dict[str, JourneySnapshot] = {}
    for journey_id, path in [("simulated", file), *sub_files.items()]:
        checked = validate_journey(loaded[path])
        _report(path, checked.problems)
        bad = bad or checked.document is None
        if checked.document is not None:
            snapshots[journey_id] = JourneySnapshot(
                journey_id=journey_id, version="local", document=checked.document
            )
    scenario_data: dict[str, Any] = {"user": loaded[user], "horizon": horizon}
    if events is not None:
        scenario_data["events"] = loaded[events]
    if entry is not None:
        scenario_data["entry_event"] = loaded[entry]
    scenario, problems = parse_model(Scenario, scenario_data)
    sources = {"user": user, "events": events, "entry_event": entry}
    for problem in problems:
        part, _, rest = problem.path.lstrip("/").partition("/")
        source = sources.get(part) or "--horizon"
        _report(source, [problem.model_copy(update={"path": f"/{rest}" if rest else ""})])
    if scenario is not None and "simulated" in snapshots:
        extra = scenario_problems(snapshots["simulated"].document, scenario)
        for problem in extra:
            inside = problem.path.removeprefix("/events")
            _report(events or file, [problem.model_copy(update={"path": inside})])
        problems += extra
    if bad or problems or scenario is None:
        raise typer.Exit(2)

    # A failing node is an answer here, not an incident: the SDK's warning with a traceback for
    # every failed activity would bury the timeline.
    logging.getLogger("temporalio").setLevel(logging.ERROR)
    main = snapshots.pop("simulated")
    result = asyncio.run(simulate(main, scenario, settings=get_settings(), sub_journeys=snapshots))
    if as_json:
        typer.echo(result.model_dump_json(indent=2))
    else:
        print_timeline(result, f"{main.document.name} for {scenario.user.id}")
    _exit_now(0 if result.status in ("completed", "waiting") else 1)


def _exit_now(code: int) -> NoReturn:
    """Exit without interpreter teardown: the Temporal SDK's Rust threads can abort a
    finalizing interpreter (PyGILState_Release, temporalio/sdk-python#300), which would turn
    a finished simulation into exit 134. Everything is printed and every server stopped."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)

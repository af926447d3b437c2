"""The `journey` command line."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from journey.cli.metrics import metrics_app
from journey.core.config import Settings, get_settings
from journey.core.runtime import configure_logging, keep_files_private
from journey.simulation.cli import simulate_command

app = typer.Typer(
    no_args_is_help=True, add_completion=False, help="Journey: durable lifecycle journeys."
)
db_app = typer.Typer(no_args_is_help=True, help="Database schema.")
events_app = typer.Typer(no_args_is_help=True, help="Customer events on Kafka.")
app.add_typer(db_app, name="db")
token_app = typer.Typer(no_args_is_help=True, help="Bearer tokens for the REST gateway.")
app.add_typer(events_app, name="events")
app.add_typer(token_app, name="token")
app.add_typer(metrics_app, name="metrics")


def _observe(settings: Settings, service: str) -> None:
    """A service process's logging and tracing, as its settings say (journey/core/telemetry/), and
    owner-only files (a SQLite database it creates holds user data)."""
    from journey.core.telemetry.tracing import configure_tracing

    keep_files_private()

    configure_logging(settings.log_level, settings.log_format)
    configure_tracing(settings, f"journey-{service}")


@app.command()
def dev(
    smoke: Annotated[
        bool, typer.Option(help="Start, check every component, run the smoke path, stop.")
    ] = False,
) -> None:
    """Run the whole stack in the foreground on embedded defaults."""
    from journey.dev.run import run_dev

    raise typer.Exit(asyncio.run(run_dev(get_settings(), smoke=smoke)))


@app.command()
def api() -> None:
    """Serve the REST gateway."""
    from api.server import main as serve_api

    settings = get_settings()
    _observe(settings, "api")
    serve_api(settings)


@app.command()
def worker() -> None:
    """Run the Temporal worker."""
    from worker import main as run_worker

    settings = get_settings()
    _observe(settings, "worker")
    run_worker(settings)


@app.command()
def ingest() -> None:
    """Consume customer events from Kafka."""
    from journey.ingest.service import main as run_ingest

    settings = get_settings()
    _observe(settings, "ingest")
    run_ingest(settings)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every migration (alembic upgrade head) to JOURNEY_DATABASE_URL."""
    from journey.core.db.engine import run_migrations

    settings = get_settings()
    run_migrations(settings.resolved_database_url)
    typer.echo(f"database at head: {settings.resolved_database_url.split('@')[-1]}")


def _parse_props(props: list[str]) -> dict[str, object]:
    parsed: dict[str, object] = {}
    for prop in props:
        key, sep, raw = prop.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"{prop!r} is not KEY=VALUE", param_hint="--prop")
        try:
            parsed[key] = json.loads(raw)  # numbers, booleans and JSON stay typed
        except json.JSONDecodeError:
            parsed[key] = raw
    return parsed


@events_app.command("send")
def events_send(
    type_: Annotated[str, typer.Option("--type", help="Event type, e.g. signup.")],
    user: Annotated[str, typer.Option("--user", help="The user's id (also the Kafka key).")],
    prop: Annotated[
        list[str] | None, typer.Option("--prop", help="KEY=VALUE property; repeatable.")
    ] = None,
    event_id: Annotated[
        str | None, typer.Option("--id", help="Event id (dedupe key); random by default.")
    ] = None,
) -> None:
    """Produce one event to the events topic and wait for the broker's acknowledgement."""
    from pydantic import ValidationError

    from dsl.events import EventEnvelope
    from journey.core.kafka.clients import make_producer, produce_json
    from journey.ingest.envelopes import encoded, oversized

    settings = get_settings()
    fields: dict[str, object] = {
        "type": type_,
        "user_id": user,
        "properties": _parse_props(prop or []),
    }
    if event_id:
        fields["id"] = event_id
    try:
        envelope = EventEnvelope.model_validate(fields)
    except ValidationError as exc:
        errors = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        typer.echo(f"journey events send: invalid event: {errors}", err=True)
        raise typer.Exit(2) from exc
    if (too_large := oversized(len(encoded(envelope)), settings.event_max_bytes)) is not None:
        typer.echo(f"journey events send: event too large: {too_large}", err=True)
        raise typer.Exit(2)
    # Quiet client: delivery failures are reported once, below, not as librdkafka log lines.
    ack_timeout = settings.kafka_ack_timeout_seconds
    producer = make_producer(
        settings, **{"message.timeout.ms": int(ack_timeout * 1000), "log_level": 0}
    )
    try:
        partition, offset = asyncio.run(
            produce_json(
                producer,
                settings.kafka_events_topic,
                envelope.model_dump(mode="json"),
                key=user,
                timeout=ack_timeout + 5,
            )
        )
    except Exception as exc:
        typer.echo(
            f"journey events send: could not deliver to {settings.resolved_kafka_bootstrap}: {exc}"
            " — is `journey dev` running?",
            err=True,
        )
        raise typer.Exit(1) from exc
    typer.echo(
        f"sent {envelope.type} {envelope.id} to {settings.kafka_events_topic}[{partition}]@{offset}"
    )


@token_app.command("create")
def token_create(
    role: Annotated[str, typer.Option(help="viewer, operator, editor or admin.")],
    subject: Annotated[
        str, typer.Option(help="Who the token is for (the audit log's actor).")
    ] = "cli",
    ttl_minutes: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Lifetime; JOURNEY_JWT_TTL_MINUTES by default, at most "
            "JOURNEY_JWT_MAX_TTL_MINUTES (the gateway refuses longer-lived tokens).",
        ),
    ] = None,
) -> None:
    """Print a signed JWT for ROLE (signed with JOURNEY_JWT_SECRET)."""
    from datetime import timedelta

    from api.auth import Role, create_token

    settings = get_settings()
    if role not in Role.__members__:
        known = ", ".join(Role.__members__)
        typer.echo(f"journey token create: unknown role {role!r}; use one of {known}", err=True)
        raise typer.Exit(2)
    if settings.jwt_secret is None:
        typer.echo(
            "journey token create: JOURNEY_JWT_SECRET is not set; set it to the gateway's "
            f"secret (for `journey dev`: the file {settings.data_dir / 'jwt-secret'})",
            err=True,
        )
        raise typer.Exit(1)
    if ttl_minutes is not None and ttl_minutes > settings.jwt_max_ttl_minutes:
        typer.echo(
            f"journey token create: --ttl-minutes {ttl_minutes} exceeds the maximum token "
            f"lifetime of {settings.jwt_max_ttl_minutes} minutes (JOURNEY_JWT_MAX_TTL_MINUTES); "
            "the gateway would refuse it. Use an API key (JOURNEY_API_KEYS) for a long-lived "
            "credential.",
            err=True,
        )
        raise typer.Exit(2)
    ttl = timedelta(minutes=ttl_minutes) if ttl_minutes is not None else None
    typer.echo(create_token(settings, subject=subject, role=Role[role], ttl=ttl))


@app.command("bench")
def bench(
    quick: Annotated[
        bool, typer.Option(help="Every scenario small enough to finish in under 3 minutes.")
    ] = False,
    only: Annotated[
        list[str] | None, typer.Option("--only", help="Run this scenario only; repeatable.")
    ] = None,
    results: Annotated[
        Path | None,
        typer.Option(help="Write the results table here (a full run writes bench/RESULTS.md)."),
    ] = None,
) -> None:
    """Benchmark Journey against the raw engine: one JSON line per result."""
    # bench/ is not installed with the package (a deployment needs none of it); it sits beside
    # journey/ in a source checkout, which an editable install runs from.
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "bench" / "runner.py").is_file() and str(checkout) not in sys.path:
        sys.path.insert(0, str(checkout))
    try:
        from bench.runner import main as run_bench
    except ImportError as exc:
        typer.echo(f"journey bench: needs a source checkout (no bench/: {exc})", err=True)
        raise typer.Exit(2) from exc

    try:
        code = run_bench(get_settings(), quick=quick, names=only or None, results=results)
    except KeyError as exc:
        typer.echo(f"journey bench: {exc.args[0]}", err=True)
        raise typer.Exit(2) from exc
    raise typer.Exit(code)


@app.command("validate")
def validate(
    files: Annotated[list[Path], typer.Argument(help="Journey JSON files to validate.")],
) -> None:
    """Validate journey documents: exit 1 if any is invalid, 2 if a file is unreadable."""
    from dsl.validation import validate_journey

    invalid = unreadable = False
    for path in files:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            typer.echo(f"{path}: error: no such file", err=True)
            unreadable = True
            continue
        except (OSError, UnicodeDecodeError) as exc:
            typer.echo(f"{path}: error: cannot read: {exc}", err=True)
            unreadable = True
            continue
        except json.JSONDecodeError as exc:
            typer.echo(f"{path}: error: not JSON: {exc}", err=True)
            unreadable = True
            continue
        result = validate_journey(data)
        if result.ok:
            typer.echo(f"{path}: ok")
        invalid = invalid or not result.ok
        for problem in result.problems:
            typer.echo(f"{path}: {problem.path or '/'} {problem.code}: {problem.message}")
    raise typer.Exit(2 if unreadable else 1 if invalid else 0)


@app.command("diagram")
def diagram(
    file: Annotated[Path, typer.Argument(help="The journey (JSON) to draw.")],
    fence: Annotated[
        bool, typer.Option(help="Wrap it in a ```mermaid block, ready for Markdown.")
    ] = False,
) -> None:
    """Print a journey as a Mermaid flowchart: exit 1 if it is invalid, 2 if unreadable."""
    from dsl.diagram import render_mermaid
    from dsl.validation import validate_journey
    from journey.simulation.cli import Unreadable, read_json

    try:
        data = read_json(file)
    except Unreadable as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    result = validate_journey(data)
    if result.document is None:
        for problem in result.problems:
            typer.echo(f"{file}: {problem.path or '/'} {problem.code}: {problem.message}", err=True)
        raise typer.Exit(1)
    text = render_mermaid(result.document)
    typer.echo(f"```mermaid\n{text}```" if fence else text, nl=False)
    if fence:
        typer.echo()


app.command("simulate")(simulate_command)


def _bpmn_commands() -> None:
    from journey.bpmn.cli import export_bpmn_command, import_bpmn_command

    app.command("import-bpmn")(import_bpmn_command)
    app.command("export-bpmn")(export_bpmn_command)


_bpmn_commands()


@app.command("schema")
def schema(
    event: Annotated[
        bool, typer.Option("--event", help="The event envelope's schema instead.")
    ] = False,
) -> None:
    """Print the JSON Schema of journey documents (or of the event envelope)."""
    from dsl.events import event_json_schema
    from dsl.schema import journey_json_schema

    document = event_json_schema() if event else journey_json_schema()
    typer.echo(json.dumps(document, indent=2))


def main() -> None:
    app()

"""`journey metrics ...`: backfills of the daily rollup, straight against the database."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

import typer

from journey.core.config import get_settings

metrics_app = typer.Typer(no_args_is_help=True, help="Daily metrics (metrics_daily).")

DayOption = Annotated[datetime, typer.Option("--day", formats=["%Y-%m-%d"], help="YYYY-MM-DD")]
ToOption = Annotated[
    datetime | None,
    typer.Option("--to", formats=["%Y-%m-%d"], help="Last day of a range (inclusive)."),
]


@metrics_app.command("rollup")
def rollup(day: DayOption, to: ToOption = None) -> None:
    """Recompute the metrics of DAY (UTC), or of every day DAY..TO, replacing their rows."""
    from journey.core.db.engine import create_db_engine, make_session_factory
    from journey.services.metrics.rollup import rollup_day

    first, last = day.date(), (to or day).date()
    if last < first:
        raise typer.BadParameter("--to is before --day", param_hint="--to")
    settings = get_settings()
    engine = create_db_engine(settings.resolved_database_url)
    try:
        sessions = make_session_factory(engine)
        current = first
        while current <= last:
            with sessions() as session:
                rows = rollup_day(session, day=current)
            typer.echo(f"{current.isoformat()}: {rows} rows")
            current += timedelta(days=1)
    finally:
        engine.dispose()

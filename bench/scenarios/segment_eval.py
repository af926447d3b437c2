"""How long counting a segment's members takes: compiled SQL against Python over loaded rows.

The segment is three leaves (`stage == Retention AND plan == "pro" AND sessions > 5`) over N
generated users. Ours is `journey.services.segments.service.count_members`, the compiled condition
in one `SELECT count(*)` (what the API and the refresh use); the baseline loads every user row
through the ORM, in batches, and decides membership with the product's Python path
(`journey.services.segments.profile.is_member`, i.e. `dsl.conditions.evaluate` on the user's
profile). Both report seconds per count; the ratio (below 1) is the share of the Python time SQL
needs. The two counts must agree, which is also what
tests/journey/services/segments/test_sql_agreement.py promises.

Full size runs on PostgreSQL: `JOURNEY_BENCH_POSTGRES_URL`, else the settings' database when it
is PostgreSQL. A fresh database is created per run, migrated, loaded with one
`INSERT ... SELECT generate_series` and dropped at the end. Without PostgreSQL it runs on a
SQLite file in a temporary folder, loaded with batched executemany.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, create_engine, insert, text
from sqlmodel import select

from bench.core import Result, Scenario, Size
from dsl.stages import LIFECYCLE_STAGES
from journey.core.config import Settings
from journey.core.db.engine import (
    SessionFactory,
    create_db_engine,
    make_session_factory,
    normalise_database_url,
    run_migrations,
)
from journey.core.db.models import User
from journey.services.segments.profile import is_member
from journey.services.segments.rules import condition_problems, parse_condition
from journey.services.segments.service import Definition, count_members

NAME = "segment_eval"
POSTGRES_ENV = "JOURNEY_BENCH_POSTGRES_URL"
CONDITION = {
    "all": [
        {"field": "user.current_lifecycle_stage", "op": "eq", "value": "Retention"},
        {"field": "user.attributes.plan", "op": "eq", "value": "pro"},
        {"field": "user.attributes.sessions", "op": "gt", "value": 5},
    ]
}
PLANS = ("free", "pro", "team")
COUNTRIES = ("DE", "US", "FR", "GB")
BATCH = 20_000  # rows per executemany (SQLite) and per ORM fetch (both)

# The same users on both databases: user g (1..N) is in stage g % 5, has no plan when
# g % 11 == 0 (a missing field), and holds `sessions` as a string when g % 17 == 0 (a type
# mismatch gt must reject), so the count exercises the semantics the two sides must share.
POSTGRES_LOAD = """
INSERT INTO users (id, email, current_lifecycle_stage, attributes, created_at, updated_at)
SELECT 'u' || g, 'u' || g || '@example.com',
       (ARRAY['Acquisition', 'Activation', 'Retention', 'Revenue', 'Referral'])[g % 5 + 1],
       jsonb_strip_nulls(jsonb_build_object(
           'plan', CASE WHEN g % 11 = 0 THEN NULL
                        ELSE (ARRAY['free', 'pro', 'team'])[g % 3 + 1] END,
           'sessions', CASE WHEN g % 17 = 0 THEN to_jsonb(((g * 7) % 13)::text)
                            ELSE to_jsonb((g * 7) % 13) END,
           'first_name', 'User' || g,
           'country', (ARRAY['DE', 'US', 'FR', 'GB'])[g % 4 + 1])),
       now() - make_interval(secs => g), now()
FROM generate_series(1, :n) AS g
"""

PLAIN_INDEXES = """
SELECT indexname, indexdef FROM pg_indexes
WHERE schemaname = current_schema() AND tablename = 'users' AND indexdef NOT LIKE 'CREATE UNIQUE%'
"""


def _user_row(g: int, now: datetime) -> dict[str, Any]:
    """User g as POSTGRES_LOAD writes it, for the SQLite executemany."""
    attributes: dict[str, Any] = {
        "sessions": str(g * 7 % 13) if g % 17 == 0 else g * 7 % 13,
        "first_name": f"User{g}",
        "country": COUNTRIES[g % 4],
    }
    if g % 11:
        attributes["plan"] = PLANS[g % 3]
    return {
        "id": f"u{g}",
        "email": f"u{g}@example.com",
        "current_lifecycle_stage": LIFECYCLE_STAGES[g % 5],
        "attributes": attributes,
        "created_at": now - timedelta(seconds=g),
        "updated_at": now,
    }


def postgres_url(settings: Settings) -> str | None:
    url = os.environ.get(POSTGRES_ENV) or settings.database_url
    return url if url and url.startswith(("postgresql", "postgres:")) else None


@contextmanager
def fresh_database(settings: Settings) -> Iterator[tuple[str, str]]:
    """(kind, url) of a new, migrated database: PostgreSQL when configured, else SQLite."""
    admin = postgres_url(settings)
    if admin is None:
        with tempfile.TemporaryDirectory(prefix="journey-bench-segments-") as folder:
            url = f"sqlite:///{folder}/users.db"
            run_migrations(url)
            yield "sqlite", url
        return
    admin_url = normalise_database_url(admin)
    name = f"journey_bench_{uuid.uuid4().hex[:12]}"
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            url = admin_url.set(database=name).render_as_string(hide_password=False)
            run_migrations(url)
            yield "postgresql", url
        finally:
            with engine.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        engine.dispose()


def load_users(engine: Engine, kind: str, n: int) -> None:
    if kind != "postgresql":
        now = datetime.now(UTC)
        with make_session_factory(engine)() as session:
            for first in range(1, n + 1, BATCH):
                rows = [_user_row(g, now) for g in range(first, min(first + BATCH, n + 1))]
                session.execute(insert(User), rows)
            session.commit()
        return
    with engine.begin() as connection:
        # Bulk-load practice: the plain indexes (the GIN index on attributes above all) are
        # built once after the load instead of row by row; the schema ends up the same.
        indexes = connection.execute(text(PLAIN_INDEXES)).all()
        for name, _ in indexes:
            connection.execute(text(f'DROP INDEX "{name}"'))
        connection.execute(text(POSTGRES_LOAD), {"n": n})
        for _, definition in indexes:
            connection.execute(text(definition))
    # Fresh rows: set hint bits and statistics now, not during the first timed scan.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE users"))


def python_count(sessions: SessionFactory, definition: Definition) -> int:
    """Members by the product's Python evaluator over every row, streamed in batches."""
    count = 0
    with sessions() as session:
        rows = session.exec(select(User).execution_options(yield_per=BATCH))
        for user in rows:
            count += is_member(
                user, condition=definition.condition, lifecycle_stages=definition.lifecycle_stages
            )
    return count


def sql_count(sessions: SessionFactory, definition: Definition) -> int:
    with sessions() as session:
        return count_members(session, definition=definition)


def _median_seconds(count: Callable[[], int], repeats: int) -> tuple[float, set[int]]:
    times, counts = [], set()
    for _ in range(repeats):
        started = time.perf_counter()
        counts.add(count())
        times.append(time.perf_counter() - started)
    return statistics.median(times), counts


def measure(settings: Settings, size: Size) -> Result:
    condition = parse_condition(CONDITION)
    assert condition is not None and not condition_problems(condition)
    definition = Definition(condition)
    with fresh_database(settings) as (kind, url):
        engine = create_db_engine(url)
        try:
            sessions = make_session_factory(engine)
            started = time.perf_counter()
            load_users(engine, kind, size.n)
            load_seconds = time.perf_counter() - started
            with sessions() as session:
                stored = count_members(session, definition=Definition(None))
            if stored != size.n:
                raise AssertionError(f"loaded {stored} users, expected {size.n}")
            sql_count(sessions, definition)  # warm-up: plans, caches, the first scan
            ours, ours_counts = _median_seconds(
                lambda: sql_count(sessions, definition), int(size.extra["sql_repeats"])
            )
            base, base_counts = _median_seconds(
                lambda: python_count(sessions, definition), int(size.extra["python_repeats"])
            )
        finally:
            engine.dispose()
    if len(ours_counts | base_counts) != 1 or not min(ours_counts):
        raise AssertionError(f"counts differ or are empty: SQL {ours_counts}, Python {base_counts}")
    members = ours_counts.pop()
    return Result(
        scenario=NAME,
        ours=ours,
        baseline=base,
        unit="s",
        n=size.n,
        better="lower",
        metric="seconds per member count",
        notes={
            "database": kind,
            "members": members,
            "sql_count": members,
            "python_count": base_counts.pop(),
            "load_seconds": round(load_seconds, 1),
            "python_rows_per_s": round(size.n / base),
        },
    )


async def run(settings: Settings, size: Size) -> Sequence[Result]:
    return [await asyncio.to_thread(measure, settings, size)]


SCENARIO = Scenario(
    name=NAME,
    description=(
        "Seconds to count a 3-leaf segment's members over N users: the compiled SQL "
        "(`count_members`) vs loading every row and evaluating the condition in Python."
    ),
    run=run,
    quick=Size(quick=True, n=20_000, extra={"sql_repeats": 5, "python_repeats": 3}),
    full=Size(quick=False, n=1_000_000, extra={"sql_repeats": 3, "python_repeats": 1}),
)

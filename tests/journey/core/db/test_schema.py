"""The migrations build exactly the models' schema, identically on SQLite and PostgreSQL.

Three layers: Alembic's own comparison of each migrated database with the models; a normalised
"logical schema" read back from both databases and compared across them (which also covers
what Alembic does not compare: DESC index columns and partial-index predicates); and real rows
hitting the constraints on both backends.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, delete, func, inspect, select
from sqlalchemy.engine.interfaces import ReflectedIndex
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import ColumnClause, UnaryExpression
from sqlalchemy.types import TypeEngine
from sqlmodel import Session, SQLModel

from journey.core.db.engine import create_db_engine, migration_config, run_migrations
from journey.core.db.models import (
    User,
    UserLifecycleHistory,
    UserSegment,
    UserSegmentMembership,
    Workflow,
    WorkflowExecution,
)
from journey.services.metrics.partitions import is_partition
from tests.harness.database import POSTGRES_ENV, empty_database_url, postgres_admin_url
from tests.harness.needs import needs

SEED_TABLES = {
    "users",
    "user_lifecycle_history",
    "workflows",
    "workflow_executions",
    "user_segments",
    "user_segment_memberships",
    "triggers",
    "trigger_executions",
    "lifecycle_events",
    "metrics_daily",
}


# ---- reading a schema back -------------------------------------------------------------------


def type_family(column_type: TypeEngine[Any], dialect: str) -> str:
    """The portable meaning of a reflected column type, ignoring how each backend spells it."""
    if isinstance(column_type, sa.Uuid):
        return "uuid"
    if isinstance(column_type, sa.CHAR) and column_type.length == 32 and dialect == "sqlite":
        return "uuid"  # Uuid's SQLite form; no other column of the schema is CHAR(32).
    # Stage lists are arrays on PostgreSQL and JSON on SQLite by design; the per-backend
    # comparison with the models (test_migrations_match_models) checks the exact types.
    if isinstance(column_type, sa.JSON | sa.ARRAY):
        return "json"
    if isinstance(column_type, sa.Text):
        return "text"
    if isinstance(column_type, sa.String):
        return f"string({column_type.length})"
    families: list[tuple[type[TypeEngine[Any]], str]] = [
        (sa.Boolean, "bool"),
        (sa.Integer, "int"),
        (sa.DateTime, "datetime"),
        (sa.Date, "date"),
        (sa.Numeric, "numeric"),
    ]
    for base, family in families:
        if isinstance(column_type, base):
            return family
    raise AssertionError(f"no type family for {column_type!r}")


def normalise_predicate(predicate: object) -> str | None:
    """'(enabled = true)' (PostgreSQL) and 'enabled = true' (SQLite) are the same predicate."""
    if predicate is None:
        return None
    sql = re.sub(r"\s+", " ", str(predicate)).strip().lower()
    while sql.startswith("(") and sql.endswith(")"):
        sql = sql[1:-1].strip()
    return sql


def _descending_columns(engine: Engine, index: ReflectedIndex) -> list[str]:
    if engine.dialect.name != "sqlite":
        sorting = index.get("column_sorting", {})
        return sorted(name for name, flags in sorting.items() if "desc" in flags)
    # SQLAlchemy does not reflect sort order from SQLite; the index's own pragma has it.
    with engine.connect() as connection:
        rows = connection.exec_driver_sql(f'PRAGMA index_xinfo("{index["name"]}")').all()
    return sorted(row[2] for row in rows if row[5] == 1 and row[3] == 1)


def _indexes(engine: Engine, table: str) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for index in inspect(engine).get_indexes(table):
        if index.get("duplicates_constraint") or index["name"] is None:
            continue  # PostgreSQL's index behind a UNIQUE constraint, listed under "unique".
        options = index.get("dialect_options", {})
        where = options.get("postgresql_where", options.get("sqlite_where"))
        found[index["name"]] = {
            "columns": list(index["column_names"]),
            "descending": _descending_columns(engine, index),
            "unique": bool(index["unique"]),
            "where": normalise_predicate(where),
        }
    return found


# PostgreSQL-only deviation (migration 0005, see journey/core/db/models/__init__.py):
# lifecycle_events is partitioned by month there, so its primary key also holds the partition key
# created_at, and its partitions are tables of their own. Both are normalised away here, and only
# here.
PARTITION_KEYS = {"lifecycle_events": "created_at"}


def _primary_key(table: str, columns: list[str], dialect: str) -> list[str]:
    if dialect == "postgresql" and table in PARTITION_KEYS:
        assert columns[-1] == PARTITION_KEYS[table], columns
        return columns[:-1]
    return columns


def tables(engine: Engine) -> list[str]:
    """The tables of the schema: partitions are storage, not tables of their own."""
    return sorted(name for name in inspect(engine).get_table_names() if not is_partition(name))


def logical_schema(engine: Engine) -> dict[str, Any]:
    """Tables, columns, keys, constraints and indexes, in terms both databases share."""
    inspector = inspect(engine)
    dialect = engine.dialect.name
    schema: dict[str, Any] = {}
    for table in tables(engine):
        pk = inspector.get_pk_constraint(table)
        schema[table] = {
            "columns": [
                (c["name"], type_family(c["type"], dialect), c["nullable"])
                for c in inspector.get_columns(table)
            ],
            "primary_key": (pk["name"], _primary_key(table, pk["constrained_columns"], dialect)),
            "foreign_keys": {
                fk["name"]: (
                    fk["constrained_columns"],
                    fk["referred_table"],
                    fk["referred_columns"],
                    (fk["options"].get("ondelete") or "NO ACTION").upper(),
                )
                for fk in inspector.get_foreign_keys(table)
            },
            "unique": {
                uq["name"]: uq["column_names"] for uq in inspector.get_unique_constraints(table)
            },
            "checks": sorted(ck["name"] for ck in inspector.get_check_constraints(table)),
            "indexes": _indexes(engine, table),
        }
    return schema


def declared_index(index: sa.Index) -> dict[str, Any]:
    """What a model's Index declares, in the shape `logical_schema` reads back."""
    columns, descending = [], []
    for expression in index.expressions:
        if isinstance(expression, UnaryExpression) and expression.modifier is operators.desc_op:
            descending.append(expression.element.name)
            columns.append(expression.element.name)
        else:
            assert isinstance(expression, ColumnClause), expression
            columns.append(expression.name)
    where = {
        normalise_predicate(index.dialect_options[d]["where"]) for d in ("postgresql", "sqlite")
    }
    assert len(where) == 1, f"{index.name}: the PostgreSQL and SQLite predicates differ"
    return {
        "columns": columns,
        "descending": sorted(descending),
        "unique": bool(index.unique),
        "where": where.pop(),
    }


# ---- the schema --------------------------------------------------------------------------------


def _not_a_partition(name: str | None, kind: str, _parents: Any) -> bool:
    return not (kind == "table" and name is not None and is_partition(name))


def test_migrations_match_models(migrated_engine: Engine) -> None:
    with migrated_engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={
                "compare_type": True,
                "compare_server_default": True,
                "include_name": _not_a_partition,
            },
        )
        assert compare_metadata(context, SQLModel.metadata) == []

    # Alembic ignores DESC columns and partial-index predicates; compare those ourselves.
    schema = logical_schema(migrated_engine)
    assert set(schema) >= SEED_TABLES
    for table in SQLModel.metadata.sorted_tables:
        declared = {index.name: declared_index(index) for index in table.indexes}
        assert schema[table.name]["indexes"] == declared, table.name


def test_sqlite_and_postgres_have_the_same_logical_schema(tmp_path: Path) -> None:
    if postgres_admin_url() is None:
        pytest.skip(needs("postgres", f"comparing against PostgreSQL needs {POSTGRES_ENV}"))
    schemas = {}
    for kind in ("sqlite", "postgres"):
        with empty_database_url(kind, tmp_path) as url:
            run_migrations(url)
            engine = create_db_engine(url)
            try:
                schemas[kind] = logical_schema(engine)
            finally:
                engine.dispose()
    assert set(schemas["sqlite"]) >= SEED_TABLES
    assert schemas["sqlite"] == schemas["postgres"]


def test_downgrade_to_base_then_upgrade_again(
    migrated_engine: Engine, migrated_database_url: str
) -> None:
    config = migration_config(migrated_database_url)
    command.downgrade(config, "base")
    assert set(inspect(migrated_engine).get_table_names()) == {"alembic_version"}
    command.upgrade(config, "head")
    assert set(inspect(migrated_engine).get_table_names()) >= SEED_TABLES


# ---- constraints, on both backends -------------------------------------------------------------


def _user(user_id: str = "u1", **fields: Any) -> User:
    return User(id=user_id, **fields)


def test_rows_round_trip(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        session.add(_user(email="u1@example.com", attributes={"plan": "pro"}))
        workflow = Workflow(
            name="welcome", definition={"steps": []}, lifecycle_stages=["Activation"]
        )
        session.add(workflow)
        session.commit()
    with session_factory() as session:
        user = session.get(User, "u1")
        assert user is not None
        assert user.current_lifecycle_stage == "Acquisition"
        assert user.attributes == {"plan": "pro"}
        assert user.created_at is not None and user.created_at.tzinfo is not None
        stored = session.get(Workflow, workflow.id)
        assert stored is not None
        assert stored.lifecycle_stages == ["Activation"]
        assert (stored.version, stored.status) == ("1.0.0", "draft")


@pytest.mark.parametrize(
    "row",
    [
        pytest.param(lambda: _user(current_lifecycle_stage="Churned"), id="user-stage"),
        pytest.param(
            lambda: UserLifecycleHistory(user_id="u1", from_stage="Nope", to_stage="Activation"),
            id="history-stage",
        ),
        pytest.param(
            lambda: Workflow(name="w", definition={}, status="live"), id="workflow-status"
        ),
    ],
)
def test_check_constraints_reject_bad_values(
    session_factory: sessionmaker[Session], row: Any
) -> None:
    with session_factory() as session:
        session.add(_user())
        session.commit()
        session.add(row())
        with pytest.raises(IntegrityError):
            session.commit()


def test_email_is_unique_but_optional(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        session.add_all([_user("u1"), _user("u2"), _user("u3", email="a@example.com")])
        session.commit()  # several users without an email are fine
        session.add(_user("u4", email="a@example.com"))
        with pytest.raises(IntegrityError):
            session.commit()


def test_deleting_a_user_cascades(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        segment = UserSegment(name="new", conditions={"all": []})
        workflow = Workflow(name="welcome", definition={"steps": []})
        session.add_all([_user(), segment, workflow])
        session.flush()
        session.add_all(
            [
                UserLifecycleHistory(user_id="u1", to_stage="Acquisition", metadata_={"via": "t"}),
                UserSegmentMembership(user_id="u1", segment_id=segment.id),
                WorkflowExecution(
                    workflow_id=workflow.id,
                    workflow_version="1.0.0",
                    user_id="u1",
                    temporal_workflow_id=f"journey-{uuid.uuid4()}",
                    completed_at=datetime.now(UTC),
                ),
            ]
        )
        session.commit()

        session.execute(delete(User).where(User.id == "u1"))  # type: ignore[arg-type]
        session.commit()
        for model in (UserLifecycleHistory, UserSegmentMembership, WorkflowExecution):
            count = session.scalar(select(func.count()).select_from(model))
            assert count == 0, model.__tablename__
        assert session.get(UserSegment, segment.id) is not None

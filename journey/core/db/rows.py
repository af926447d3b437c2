"""Table rows as plain dicts, inserted many at a time.

An ORM object per row plus the unit of work's flush costs several times what the INSERT itself
does: in the consumer's batch path it was about a third of the Python time per event
(bench/README.md, kafka_start_rate). A list of dicts goes to the database as one executemany.
`row_values` fills in the model's defaults, so a dict row holds what the ORM row of the same
values would have held.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from pydantic_core import PydanticUndefined
from sqlalchemy import insert
from sqlmodel import Session, SQLModel

_Default = tuple[str, Any, Callable[[], Any] | None]


@cache
def _defaults(model: type[SQLModel]) -> tuple[_Default, ...]:
    # Read once per model: pydantic inspects a default factory's signature on every call of
    # FieldInfo.get_default, which alone was ~6% of the batch path.
    return tuple(
        (name, info.default, info.default_factory)  # type: ignore[misc]
        for name, info in model.model_fields.items()
    )


def row_values(model: type[SQLModel], **values: Any) -> dict[str, Any]:
    """Every column of `model` for one row: the given values, the model's defaults for the rest.
    A required column left out, or a name that is not a column, raises TypeError."""
    row: dict[str, Any] = {}
    for name, default, factory in _defaults(model):
        if name in values:
            row[name] = values.pop(name)
        elif factory is not None:
            row[name] = factory()
        elif default is PydanticUndefined:
            raise TypeError(f"{model.__name__}.{name} needs a value")
        else:
            row[name] = default
    if values:
        raise TypeError(f"{model.__name__} has no column {', '.join(sorted(values))}")
    return row


def insert_rows(session: Session, model: type[SQLModel], rows: list[dict[str, Any]]) -> None:
    """One multi-row INSERT in the session's transaction (no ORM objects; the caller commits)."""
    if rows:
        session.connection().execute(insert(model), rows)

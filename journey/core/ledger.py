"""The effect ledger: what each side effect of a journey did, keyed by its effect key.

Activities consult it before acting and record after, so a retried or re-run activity returns
the recorded result instead of repeating the effect:

- Database effects (attribute updates, lifecycle transitions) record in the same transaction
  as the change (`lookup_in` / `add_in`): exactly once.
- External effects (SMTP, webhooks, Kafka) record right after the effect succeeds. A crash
  between the two repeats the effect, so the key also travels downstream (Message-ID,
  `webhook-id`, event id) for the receiver to deduplicate: at least once, deduplicable.

Every email and webhook looks up and records once, so both are single Core statements: as ORM
objects with a flush they cost about twice as much (bench/README.md, journey_throughput).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from journey.core.db.engine import SessionFactory
from journey.core.db.models import Delivery
from journey.core.db.rows import insert_rows, row_values

_BY_KEY = select(
    col(Delivery.key), col(Delivery.kind), col(Delivery.outcome), col(Delivery.result)
).where(col(Delivery.key) == bindparam("key"))


class DeliveryRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    key: str
    kind: str
    outcome: str
    result: dict[str, Any] | None


class Ledger:
    def __init__(self, session_factory: SessionFactory) -> None:
        self._session_factory = session_factory

    def lookup(self, key: str) -> DeliveryRecord | None:
        with self._session_factory() as session:
            return self.lookup_in(session, key)

    def record(
        self, key: str, *, kind: str, outcome: str, result: dict[str, Any] | None, **origin: Any
    ) -> DeliveryRecord:
        """Record an effect; if a concurrent attempt recorded the key first, return its record."""
        with self._session_factory() as session:
            try:
                self.add_in(session, key, kind=kind, outcome=outcome, result=result, **origin)
                session.commit()
            except IntegrityError:
                session.rollback()
                existing = self.lookup_in(session, key)
                if existing is None:
                    raise
                return existing
        return DeliveryRecord(key=key, kind=kind, outcome=outcome, result=result)

    @staticmethod
    def lookup_in(session: Session, key: str) -> DeliveryRecord | None:
        row = session.connection().execute(_BY_KEY, {"key": key}).first()
        if row is None:
            return None
        return DeliveryRecord(key=row.key, kind=row.kind, outcome=row.outcome, result=row.result)

    @staticmethod
    def add_in(
        session: Session,
        key: str,
        *,
        kind: str,
        outcome: str,
        result: dict[str, Any] | None,
        **origin: Any,
    ) -> None:
        """Add the record to the caller's transaction; the caller commits with its change."""
        row = row_values(Delivery, key=key, kind=kind, outcome=outcome, result=result, **origin)
        insert_rows(session, Delivery, [row])

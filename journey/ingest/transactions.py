"""The consumer's write transactions: one at a time on SQLite, and those that queue up, together.

SQLite takes one writer at a time and makes the others sleep in its busy handler (1 ms growing
to 100 ms per try), so concurrent groups would mostly wait; taking turns in process (the gate)
lets each transaction go as soon as the previous one commits. Taking turns still hands the
gate, the GIL and a pooled connection from thread to thread for every event, which made the
serialized part (not SQLite's own work) the consumer's limit. So the transactions waiting while
one runs are run next by one thread, in one transaction and in arrival order (flat combining):
each sees the writes of those before it, exactly as if they had taken turns.

A failure inside a combined transaction rolls it back and runs each of its parts alone, so one
event's error is still that event's alone. PostgreSQL runs transactions concurrently: there
each runs alone, as before.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from journey.core.db.engine import SessionFactory

T = TypeVar("T")


def _is_sqlite(session_factory: SessionFactory) -> bool:
    bind = session_factory.kw.get("bind")
    return bind is not None and bind.dialect.name == "sqlite"


class _Part(Generic[T]):
    def __init__(self, work: Callable[[Session], T]) -> None:
        self.work = work
        self.done = False
        self.result: T | None = None
        self.error: BaseException | None = None

    def outcome(self) -> T:
        if self.error is not None:
            raise self.error
        return self.result  # type: ignore[return-value]


class Transactions:
    """Runs `work(session)` and commits; see the module docstring for how."""

    def __init__(self, session_factory: SessionFactory) -> None:
        self._db = session_factory
        self._combine = _is_sqlite(session_factory)
        self._gate = threading.Lock()  # held only on SQLite, where transactions take turns
        self._queued: list[_Part[Any]] = []
        self._queue_lock = threading.Lock()
        self.combined = 0  # transactions that ran more than one part, for tests and logs

    def run(self, work: Callable[[Session], T]) -> T:
        if not self._combine:
            return self._alone(work)
        part: _Part[T] = _Part(work)
        with self._queue_lock:
            self._queued.append(part)
        with self._gate:
            if not part.done:  # else a thread that held the gate before ran it
                with self._queue_lock:
                    parts, self._queued = self._queued, []
                self._together(parts)
        return part.outcome()

    def _together(self, parts: list[_Part[Any]]) -> None:
        if len(parts) > 1:
            try:
                with self._db() as session:
                    results = [part.work(session) for part in parts]
                    session.commit()
            except Exception:  # rolled back: each part again, alone, with its own outcome
                pass
            else:
                for part, result in zip(parts, results, strict=True):
                    part.result, part.done = result, True
                self.combined += 1
                return
        for part in parts:
            try:
                part.result = self._alone(part.work)
            except Exception as exc:
                part.error = exc
            part.done = True

    def _alone(self, work: Callable[[Session], T]) -> T:
        # Another consumer may decide the same event at the same moment (a rebalance); the
        # unique keys refuse the second writer, whose retry then replays the first's decisions.
        # (On SQLite the caller holds the gate.)
        for attempt in (1, 2):
            with self._db() as session:
                try:
                    result = work(session)
                    session.commit()
                    return result
                except IntegrityError:
                    session.rollback()
                    if attempt == 2:
                        raise
        raise AssertionError("unreachable")

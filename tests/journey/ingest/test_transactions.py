"""The consumer's write transactions on SQLite: waiting ones run together, failures stay apart."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from journey.core.db.engine import create_db_engine, make_session_factory
from journey.core.db.models import User
from journey.ingest.transactions import Transactions
from tests.harness.database import migrated_sqlite


@pytest.fixture
def transactions(tmp_path: Path) -> Transactions:
    engine = create_db_engine(migrated_sqlite(f"sqlite:///{(tmp_path / 't.db').as_posix()}"))
    return Transactions(make_session_factory(engine))


def add(user_id: str) -> Callable[[Session], list[str]]:
    """Add a user; -> every user id the transaction sees by then."""

    def work(session: Session) -> list[str]:
        session.add(User(id=user_id))
        session.flush()
        return sorted(session.exec(select(User.id)).all())

    return work


def holding(release: threading.Event, entered: threading.Event) -> Callable[[Session], list[str]]:
    """Add user "a", holding the gate until `release` (`entered` says it holds it)."""

    def work(session: Session) -> list[str]:
        entered.set()
        release.wait(30)
        return add("a")(session)

    return work


def queued(transactions: Transactions, count: int) -> None:
    deadline = time.monotonic() + 30
    while len(transactions._queued) < count:
        assert time.monotonic() < deadline, "the other transactions never queued"
        time.sleep(0.001)


def test_transactions_that_wait_run_together_in_arrival_order(
    transactions: Transactions,
) -> None:
    release, entered = threading.Event(), threading.Event()
    with ThreadPoolExecutor(3) as pool:
        one = pool.submit(transactions.run, holding(release, entered))
        assert entered.wait(30)
        two = pool.submit(transactions.run, add("b"))
        queued(transactions, 1)
        three = pool.submit(transactions.run, add("c"))
        queued(transactions, 2)
        release.set()
        results = [one.result(30), two.result(30), three.result(30)]
    assert results == [["a"], ["a", "b"], ["a", "b", "c"]]  # each sees those before it
    assert transactions.combined == 1  # b and c: one transaction


def test_a_failing_part_fails_alone_and_the_others_commit(transactions: Transactions) -> None:
    transactions.run(add("taken"))
    release, entered = threading.Event(), threading.Event()
    with ThreadPoolExecutor(4) as pool:
        one = pool.submit(transactions.run, holding(release, entered))
        assert entered.wait(30)
        parts = []
        for n, user in enumerate(("b", "taken", "c"), start=1):
            parts.append(pool.submit(transactions.run, add(user)))
            queued(transactions, n)  # in this order
        release.set()
        one.result(30)
        b, taken, c = parts
        assert b.result(30) == ["a", "b", "taken"]
        with pytest.raises(IntegrityError):
            taken.result(30)  # a second row under the same id, refused again when alone
        assert c.result(30) == ["a", "b", "c", "taken"]
    assert transactions.combined == 0  # the combined attempt was rolled back
    with transactions._db() as session:
        assert sorted(session.exec(select(User.id)).all()) == ["a", "b", "c", "taken"]

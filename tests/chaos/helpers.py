"""What the chaos scenarios share: the journey they run, starting many runs, counting effects.

Effects are counted where they land, by effect key (`<run id>:<node id>:<visit>`):

- webhooks at the HTTP receiver, by the `webhook-id` header (the key);
- mail at the SMTP server, by the `X-Journey-Effect-Key` header (the Message-ID is derived
  from the same key);
- database effects in the `deliveries` ledger, and in the data itself: every run increments
  its own user's counter once, so a counter above 1 is an update applied twice.

Email and webhooks are at least once (docs/guarantees.md): a crash between
the receiver's answer and the ledger write repeats the call *with the same key*, which the
receiver deduplicates. So the scenarios assert exactly one distinct key per run and action
(nothing lost, nothing sent under a second key) and report repeated deliveries of a key.
Database effects are exactly once: asserted on the ledger and on the counters.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select
from temporalio.client import Client, WorkflowHandle

from dsl.validation import validate_journey
from journey.contracts.runs import JourneyInput, JourneySnapshot
from journey.contracts.search_attributes import start_attributes
from journey.core.config import Settings
from journey.core.db.engine import create_db_engine, make_session_factory
from journey.core.db.models import Delivery, User, WorkflowExecution
from journey.services.definitions import create_workflow
from tests.harness.http_receiver import HttpReceiver
from tests.harness.smtp import SmtpCapture
from workflows.journey import JourneyWorkflow

COUNTER = "chaos_effects"  # the attribute each run increments once
EFFECT_HEADER = "x-journey-effect-key"


# Every line printed this session, repeated together at the end (tests/chaos/conftest.py):
# the servers' own logging interleaves with the per-test lines.
REPORTED: list[str] = []


def report(scenario: str, injected: str, counted: str) -> None:
    """The one line each scenario prints: what it did to the system and what it found."""
    line = f"chaos[{scenario}]: injected {injected}; counted {counted}"
    REPORTED.append(line)
    print(f"\n{line}", flush=True)  # noqa: T201 (the chaos suite's report line is its output)


# ---- the journey ------------------------------------------------------------------------------

# Short attempts and quick retries: an attempt lost with a killed worker (or a dead server) is
# retried within seconds instead of after the node type's default minute. Many attempts: the
# scenarios inject more failures than the defaults are meant to absorb.
FAST_RETRY = {
    "initial_interval": "PT1S",
    "backoff_coefficient": 1.5,
    "maximum_interval": "PT3S",
    "maximum_attempts": 100,
}


def effects_journey(
    webhook_url: str | None, *, email: bool = True, delay: str | None = None
) -> dict[str, Any]:
    """[email →] [delay →] [webhook →] update_attributes (increment COUNTER) → end."""
    nodes: list[dict[str, Any]] = []
    if email:
        nodes.append(
            {
                "id": "welcome",
                "type": "email",
                "to": "{{ user.email }}",
                "subject": "Welcome {{ user.id }}",
                "text": "Hello",
                "timeout": "PT10S",
                "retry": FAST_RETRY,
            }
        )
    if delay:
        nodes.append({"id": "pause", "type": "delay", "duration": delay})
    if webhook_url:
        nodes.append(
            {
                "id": "crm",
                "type": "webhook",
                "url": webhook_url,
                "body": {"user": "{{ user.id }}"},
                "request_timeout": "PT5S",
                "timeout": "PT10S",
                "retry": FAST_RETRY,
            }
        )
    nodes.append(
        {
            "id": "count",
            "type": "update_attributes",
            "timeout": "PT10S",
            "retry": FAST_RETRY,
            "operations": [{"op": "increment", "path": COUNTER, "by": 1}],
        }
    )
    for node, following in itertools.pairwise(nodes):
        node["next"] = following["id"]
    nodes[-1]["next"] = "done"
    nodes.append({"id": "done", "type": "end", "outcome": "done"})
    return {"name": "chaos", "start": nodes[0]["id"], "nodes": nodes}


def stored_journey(settings: Settings, document: dict[str, Any]) -> JourneySnapshot:
    """The journey stored (active) in the test's database, as runs carry it: runs of a stored
    journey are mirrored into `workflow_executions` when they end."""
    result = validate_journey(document)
    assert result.document is not None, result.problems
    engine = create_db_engine(settings.resolved_database_url)
    try:
        with make_session_factory(engine)() as session:
            row = create_workflow(
                session, document=result.document, created_by="chaos", status="active"
            )
            return JourneySnapshot(
                journey_id=str(row.id), version=row.version, document=result.document
            )
    finally:
        engine.dispose()


# ---- users and runs ---------------------------------------------------------------------------


def seed_users(settings: Settings, user_ids: Sequence[str]) -> None:
    engine = create_db_engine(settings.resolved_database_url)
    try:
        with make_session_factory(engine)() as session:
            session.add_all(User(id=u, email=f"{u}@example.com") for u in user_ids)
            session.commit()
    finally:
        engine.dispose()


async def start_runs(
    client: Client, task_queue: str, journey: JourneySnapshot, user_ids: Sequence[str]
) -> list[WorkflowHandle[Any, Any]]:
    """One run per user, started 50 at a time."""
    prefix = uuid.uuid4().hex[:8]

    async def start(user_id: str) -> WorkflowHandle[Any, Any]:
        return await client.start_workflow(
            JourneyWorkflow.run,
            JourneyInput(journey=journey, user_id=user_id),
            id=f"chaos-{prefix}-{user_id}",
            task_queue=task_queue,
            search_attributes=start_attributes(journey.journey_id, journey.version, user_id),
        )

    handles: list[WorkflowHandle[Any, Any]] = []
    for first in range(0, len(user_ids), 50):
        handles += await asyncio.gather(*(start(u) for u in user_ids[first : first + 50]))
    return handles


async def count_runs(client: Client, task_queue: str, status: str | None = None) -> int:
    query = f"TaskQueue = '{task_queue}'"
    if status is not None:
        query += f" AND ExecutionStatus = '{status}'"
    return (await client.count_workflows(query)).count


async def wait_until(
    check: Callable[[], Awaitable[bool]], what: str, timeout: float = 300.0, every: float = 0.5
) -> None:
    """Poll `check` until it holds; a hang guard, not a timing assertion."""
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        await asyncio.sleep(every)


async def wait_for_completion(
    client: Client, task_queue: str, runs: int, timeout: float = 300.0
) -> None:
    """Until `runs` runs completed; fails at once when any run failed or timed out."""

    async def all_completed() -> bool:
        bad = await count_runs(client, task_queue, "Failed")
        bad += await count_runs(client, task_queue, "TimedOut")
        assert bad == 0, f"{bad} run(s) failed"
        return await count_runs(client, task_queue, "Completed") >= runs

    await wait_until(all_completed, f"{runs} completed runs", timeout, every=1.0)


# ---- effects ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Effects:
    """What arrived where, per effect key (see the module docstring)."""

    webhooks: Counter[str]  # webhook-id -> requests (any status)
    webhook_ok: Counter[str]  # webhook-id -> requests the receiver answered 2xx
    mails: Counter[str]  # effect key -> messages accepted
    ledger: dict[str, int]  # kind -> deliveries rows
    counters: dict[str, Any]  # user id -> COUNTER
    mirrored: int  # completed runs of the users in workflow_executions

    def summary(self, runs: int) -> str:
        parts = []
        if self.webhooks:
            parts.append(
                f"{sum(self.webhooks.values())} webhook requests ({len(self.webhooks)} distinct "
                f"keys, {self.repeats(self.webhook_ok)} repeated 2xx deliveries)"
            )
        if self.mails:
            parts.append(
                f"{sum(self.mails.values())} mails ({len(self.mails)} distinct keys, "
                f"{self.repeats(self.mails)} repeated)"
            )
        updated = sum(1 for value in self.counters.values() if value == 1)
        parts.append(f"{updated}/{runs} users incremented exactly once")
        ledger = ", ".join(f"{kind} {count}" for kind, count in sorted(self.ledger.items()))
        parts.append(f"ledger rows: {ledger}")
        parts.append(f"{self.mirrored}/{runs} completions mirrored in workflow_executions")
        return ", ".join(parts)

    @staticmethod
    def repeats(counter: Counter[str]) -> int:
        return sum(count - 1 for count in counter.values() if count > 1)


def count_effects(
    settings: Settings,
    user_ids: Sequence[str],
    *,
    receiver: HttpReceiver | None = None,
    path: str | None = None,
    smtp: SmtpCapture | None = None,
    answers: Sequence[int] = (),
) -> Effects:
    """Effects of the runs of `user_ids`. `answers`: the statuses the receiver was programmed
    to give the first requests on `path`, in order (the rest got 200)."""
    webhooks: Counter[str] = Counter()
    webhook_ok: Counter[str] = Counter()
    if receiver is not None:
        received = [r for r in receiver.requests if path is None or r.path == path]
        for position, request in enumerate(received):
            key = request.headers["webhook-id"]
            webhooks[key] += 1
            if position >= len(answers) or 200 <= answers[position] < 300:
                webhook_ok[key] += 1
    mails: Counter[str] = Counter()
    if smtp is not None:
        mails.update(str(mail.message[EFFECT_HEADER]) for mail in smtp.messages)
    engine = create_db_engine(settings.resolved_database_url)
    try:
        with Session(engine) as session:
            rows = session.exec(
                select(Delivery.kind, func.count()).group_by(col(Delivery.kind))
            ).all()
            ledger = {str(kind): int(count) for kind, count in rows}
            users = session.exec(select(User).where(col(User.id).in_(list(user_ids)))).all()
            counters = {user.id: (user.attributes or {}).get(COUNTER) for user in users}
            mirrored = session.exec(
                select(func.count())
                .select_from(WorkflowExecution)
                .where(col(WorkflowExecution.user_id).in_(list(user_ids)))
                .where(WorkflowExecution.status == "completed")
            ).one()
    finally:
        engine.dispose()
    return Effects(webhooks, webhook_ok, mails, ledger, counters, int(mirrored))


def assert_effects_once(
    effects: Effects, user_ids: Sequence[str], *, webhook: bool, email: bool, updates: int = 1
) -> None:
    """What the product promises per run: every action happened under its one key, the
    database change exactly once; repeated email/webhook deliveries carry the same key."""
    runs = len(user_ids)
    if webhook:
        assert len(effects.webhooks) == runs, f"{len(effects.webhooks)} webhook keys"
        assert effects.ledger.get("webhook") == runs, effects.ledger
    if email:
        assert len(effects.mails) == runs, f"{len(effects.mails)} mail keys"
        assert effects.ledger.get("email") == runs, effects.ledger
    assert effects.ledger.get("update_attributes") == updates * runs, effects.ledger
    wrong = {user: value for user, value in effects.counters.items() if value != 1}
    assert not wrong and len(effects.counters) == runs, f"counters other than 1: {wrong}"
    assert effects.mirrored == runs, f"{effects.mirrored} completions mirrored"

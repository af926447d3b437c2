"""journey_throughput: completed journeys per second, Journey vs a hand-written workflow.

The reference journey has five nodes: a condition on the user, update_attributes, a webhook to
the stack's HTTP receiver, an email to its SMTP server, end. The baseline is what a team would
write by hand on Temporal: one workflow class that calls four activities (load the user, update
attributes, POST the webhook, send the mail) with default worker settings. Both run N journeys
for N distinct users on the same server, database, receiver and SMTP server, one after the
other, and every side effect is counted at its destination before a number is reported.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from email.message import EmailMessage
from typing import Any

import aiosmtplib
import httpx
from sqlmodel import select
from temporalio import activity
from temporalio.client import Client
from temporalio.worker import Worker

from bench.core import Result, Scenario, Size, settled
from bench.cpu import CpuLedger, CpuMeter
from bench.handwritten import BaselineInput, HandWrittenJourney, Profile
from bench.stack import BenchStack, bench_stack
from dsl.validation import validate_journey
from journey.contracts.runs import JourneySnapshot
from journey.core.config import Settings
from journey.core.db.engine import SessionFactory
from journey.core.db.models import User
from journey.services.runs.starter import start_run
from worker import journey_worker

# The window of journeys in flight at once, the same for both sides.
IN_FLIGHT = 200
# Every workflow task leaves the server timer work that fires when its 10-second timeouts
# come due, finished or not; without a pause it would land in the next leg, whichever side
# that is (bench/README.md, "Where the CPU goes").
LEG_PAUSE_SECONDS = 12.0


def reference_journey(hook_url: str) -> dict[str, Any]:
    return {
        "name": "throughput reference",
        "start": "check",
        "nodes": [
            {
                "id": "check",
                "type": "condition",
                "default": "tag",
                "branches": [
                    {
                        "when": {"field": "user.attributes.plan", "op": "eq", "value": "pro"},
                        "next": "tag",
                    }
                ],
            },
            {
                "id": "tag",
                "type": "update_attributes",
                "next": "hook",
                "operations": [{"op": "increment", "path": "visits", "by": 1}],
            },
            {
                "id": "hook",
                "type": "webhook",
                "url": hook_url,
                "next": "mail",
                "body": {"user": "{{ user.id }}", "plan": "{{ user.attributes.plan }}"},
            },
            {
                "id": "mail",
                "type": "email",
                "to": "{{ user.email }}",
                "subject": "Hello",
                "text": "Hi {{ user.id }}, welcome.",
                "next": "done",
            },
            {"id": "done", "type": "end"},
        ],
    }


# ---- the hand-written baseline -----------------------------------------------------------


class HandWrittenActivities:
    def __init__(self, sessions: SessionFactory, http: httpx.AsyncClient, smtp: tuple[str, int]):
        self._sessions = sessions
        self._http = http
        self._smtp = smtp

    @activity.defn(name="bench.load_user")
    def load_user(self, user_id: str) -> Profile:
        with self._sessions() as session:
            user = session.exec(select(User).where(User.id == user_id)).one()
            return Profile(id=user.id, email=user.email, attributes=dict(user.attributes or {}))

    @activity.defn(name="bench.increment_visits")
    def increment_visits(self, user_id: str) -> None:
        with self._sessions() as session:
            user = session.exec(select(User).where(User.id == user_id).with_for_update()).one()
            attributes = dict(user.attributes or {})
            attributes["visits"] = attributes.get("visits", 0) + 1
            user.attributes = attributes
            session.add(user)
            session.commit()

    @activity.defn(name="bench.post_webhook")
    async def post_webhook(self, url: str, body: dict[str, Any]) -> None:
        response = await self._http.post(url, json=body, timeout=10)
        response.raise_for_status()

    @activity.defn(name="bench.send_email")
    async def send_email(self, to: str, text: str) -> None:
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = "bench@localhost", to, "Hello"
        message.set_content(text)
        await aiosmtplib.send(message, hostname=self._smtp[0], port=self._smtp[1])


# ---- measuring ---------------------------------------------------------------------------


async def _windowed(n: int, one: Any) -> float:
    """Run `one(i)` for i in range(n) with at most IN_FLIGHT at once; seconds taken."""
    gate = asyncio.Semaphore(IN_FLIGHT)

    async def bounded(i: int) -> None:
        async with gate:
            await one(i)

    started = time.monotonic()
    await asyncio.gather(*(bounded(i) for i in range(n)))
    return time.monotonic() - started


def _add_users(stack: BenchStack, prefix: str, n: int) -> None:
    with stack.session_factory() as session:
        session.add_all(
            User(
                id=f"{prefix}{i}",
                email=f"{prefix}{i}@example.com",
                attributes={"plan": "pro" if i % 2 else "free"},
            )
            for i in range(n)
        )
        session.commit()


def _visits(stack: BenchStack, prefix: str) -> int:
    with stack.session_factory() as session:
        users = session.exec(select(User).where(User.id.startswith(prefix))).all()
        return sum(int((u.attributes or {}).get("visits", 0)) for u in users)


def _check(stack: BenchStack, side: str, prefix: str, n: int, mail0: int, http0: int) -> None:
    counted = {
        "emails": stack.mail.count - mail0,
        "webhooks": stack.http.count - http0,
        "attribute updates": _visits(stack, prefix),
    }
    wrong = {k: v for k, v in counted.items() if v != n}
    if wrong:
        raise AssertionError(f"{side}: expected {n} of each effect, counted {counted}")


async def measure_ours(
    stack: BenchStack, n: int, *, client: Client | None = None, settings: Settings | None = None
) -> float:
    """Journeys/s of n reference runs on the Journey worker (by default the stack's client and
    settings; observability_cost passes its instrumented ones)."""
    client, settings = client or stack.client, settings or stack.settings
    prefix = f"j{uuid.uuid4().hex[:6]}-"
    _add_users(stack, prefix, n)
    document = validate_journey(reference_journey(stack.http.url())).document
    assert document is not None
    snapshot = JourneySnapshot(journey_id="throughput", version="1", document=document)
    queue = f"bench-ours-{uuid.uuid4().hex[:8]}"
    mail0, http0 = stack.mail.count, stack.http.count
    async with journey_worker(client, settings, stack.session_factory, task_queue=queue):

        async def one(i: int) -> None:
            run_id, _ = await start_run(
                client,
                task_queue=queue,
                snapshot=snapshot,
                user_id=f"{prefix}{i}",
                workflow_id=f"{queue}-{i}",
                throttled_actions=settings.throttled_actions,
            )
            await settled(client.get_workflow_handle(f"{queue}-{i}", run_id=run_id))

        seconds = await _windowed(n, one)
    _check(stack, "journey", prefix, n, mail0, http0)
    return n / seconds


async def measure_baseline(stack: BenchStack, n: int) -> float:
    prefix = f"h{uuid.uuid4().hex[:6]}-"
    _add_users(stack, prefix, n)
    queue = f"bench-baseline-{uuid.uuid4().hex[:8]}"
    mail0, http0 = stack.mail.count, stack.http.count
    async with httpx.AsyncClient() as http:
        activities = HandWrittenActivities(
            stack.session_factory,
            http,
            (stack.settings.resolved_smtp_host, stack.settings.smtp_port),
        )
        with ThreadPoolExecutor(max_workers=32) as executor:
            async with Worker(
                stack.client,
                task_queue=queue,
                workflows=[HandWrittenJourney],
                activities=[
                    activities.load_user,
                    activities.increment_visits,
                    activities.post_webhook,
                    activities.send_email,
                ],
                activity_executor=executor,
            ):

                async def one(i: int) -> None:
                    request = BaselineInput(user_id=f"{prefix}{i}", hook_url=stack.http.url())
                    await settled(
                        await stack.client.start_workflow(
                            HandWrittenJourney.run, request, id=f"{queue}-{i}", task_queue=queue
                        )
                    )

                seconds = await _windowed(n, one)
    _check(stack, "baseline", prefix, n, mail0, http0)
    return n / seconds


async def run(settings: Settings, size: Size) -> list[Result]:
    async with bench_stack(settings) as stack:
        # A short warm-up of each side so neither pays for imports or first connections.
        await measure_baseline(stack, 10)
        await measure_ours(stack, 10)
        # Rounds of A B B A: the servers' databases grow as the run goes on, so whichever side
        # went second would meet the larger ones, and this machine's share of the CPU moves
        # by the minute, so each side gets legs early and late, never one long block.
        rounds = size.extra["rounds"]
        leg = size.n // (2 * rounds)
        legs: dict[str, list[float]] = {"ours": [], "baseline": []}
        cpu = CpuLedger(CpuMeter())
        measure = {"ours": measure_ours, "baseline": measure_baseline}
        for _ in range(rounds):
            for side in ("baseline", "ours", "ours", "baseline"):
                await asyncio.sleep(LEG_PAUSE_SECONDS)
                with cpu.leg(side, leg):
                    legs[side].append(await measure[side](stack, leg))
    ours_legs, baseline_legs = legs["ours"], legs["baseline"]
    ours, baseline = _combined(ours_legs), _combined(baseline_legs)
    return [
        Result(
            "journey_throughput",
            ours,
            baseline,
            "journeys/s",
            2 * rounds * leg,
            notes={
                "target": ">= 1.0 (aim 1.5)",
                "database": stack.database_url.split(":")[0],
                "in_flight": IN_FLIGHT,
                "ours_legs": [round(r, 2) for r in ours_legs],
                "baseline_legs": [round(r, 2) for r in baseline_legs],
                "cpu_ms_per_journey": cpu.ms_per_journey(),
            },
        )
    ]


def _combined(rates: list[float]) -> float:
    """The rate over equal-sized legs: total journeys over total seconds."""
    return len(rates) / sum(1 / rate for rate in rates)


SCENARIO = Scenario(
    name="journey_throughput",
    description="completed 5-node journeys per second vs a hand-written Temporal workflow "
    "calling equivalent activities (every webhook, mail and attribute update counted)",
    run=run,
    quick=Size(quick=True, n=100, extra={"rounds": 1}),
    full=Size(quick=False, n=2000, extra={"rounds": 2}),
)

"""`journey dev --smoke`: prove every component of a running stack answers and works together.

Each check drives a real path: HTTP to the API and the Temporal UI, SMTP into the mail
catcher, a workflow through Temporal to the worker and the database, an event through Kafka
to the ingest consumer and the database, and an example journey started and woken by Kafka
events through its example trigger.
"""

from __future__ import annotations

import asyncio
import smtplib
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.message import EmailMessage

import httpx
from sqlmodel import select

from dsl.events import EventEnvelope
from journey.contracts.maintenance import StackCheckInput, StackCheckResult
from journey.contracts.runs import JourneyResult
from journey.core.config import Settings
from journey.core.db.engine import create_db_engine, make_session_factory
from journey.core.db.models import LifecycleEvent, TriggerExecution, User
from journey.core.kafka.clients import make_producer, produce_json
from journey.dev.stack import DevStack
from journey.services.definitions import find_by_name
from journey.services.lifecycle import transition_stage
from workflows.stack_check import StackCheckWorkflow

CHECK_TIMEOUT_SECONDS = 30.0
# An example that completes in seconds when its event arrives (no delays, no public URLs).
SMOKE_JOURNEY = "Win-back A/B"


@dataclass
class CheckResult:
    name: str
    ok: bool
    detail: str


async def _check(name: str, run: Callable[[], Awaitable[str]]) -> CheckResult:
    try:
        detail = await asyncio.wait_for(run(), CHECK_TIMEOUT_SECONDS)
    except Exception as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return CheckResult(name, False, message[:200])
    return CheckResult(name, True, detail)


async def run_smoke(stack: DevStack) -> list[CheckResult]:
    s = stack.settings
    engine = create_db_engine(s.resolved_database_url)
    sessions = make_session_factory(engine)

    async def api_health() -> str:
        async with httpx.AsyncClient(timeout=10) as http:
            response = await http.get(f"{s.api_url}/health")
        body = response.json()
        if response.status_code != 200:
            raise RuntimeError(f"HTTP {response.status_code}, down: {body.get('down')}")
        return "database, temporal and kafka up"

    async def temporal_ui() -> str:
        async with httpx.AsyncClient(timeout=10) as http:
            response = await http.get(s.resolved_temporal_ui_url)
        response.raise_for_status()
        return f"{s.resolved_temporal_ui_url} HTTP {response.status_code}"

    async def mail() -> str:
        if stack.mail is None:
            return "skipped: external SMTP relay is not written to by the smoke test"
        before = stack.mail.message_count()
        message = EmailMessage()
        message["From"], message["To"] = s.smtp_from, "smoke@example.com"
        message["Subject"] = "journey dev --smoke"
        message.set_content("If you can read this, the mail catcher works.")
        await asyncio.to_thread(_send_mail, s, message)
        await _until(lambda: stack.mail is not None and stack.mail.message_count() > before)
        return f"message captured in {s.resolved_mail_dir}/new"

    async def workflow() -> str:
        assert stack.client is not None
        check = StackCheckInput(check_id=uuid.uuid4().hex)
        result: StackCheckResult = await stack.client.execute_workflow(
            StackCheckWorkflow.run,
            check,
            id=f"journey-smoke-{check.check_id}",
            task_queue=s.temporal_task_queue,
        )
        return f"workflow ran on the worker, audit row {result.audit_row_id}"

    async def send(envelope: EventEnvelope) -> None:
        producer = make_producer(s)
        try:
            await produce_json(
                producer,
                s.kafka_events_topic,
                envelope.model_dump(mode="json"),
                key=envelope.user_id,
            )
        finally:
            producer.close()

    async def event() -> str:
        envelope = EventEnvelope(type="journey.smoke", user_id="smoke-user")
        await send(envelope)

        def recorded() -> bool:
            with sessions() as session:
                query = select(LifecycleEvent.id).where(LifecycleEvent.event_id == envelope.id)
                return session.exec(query).first() is not None

        await _until(recorded)
        return f"event {envelope.id} consumed and recorded"

    async def example_journey() -> str:
        """Kafka all the way: `user.inactive` starts the win-back journey through its example
        trigger; `session.started` reaches the waiting run through the consumer's signal."""
        assert stack.client is not None
        user_id = f"smoke-{uuid.uuid4().hex[:8]}"  # fresh: the trigger enters once per 30 days
        with sessions() as session:
            if find_by_name(session, SMOKE_JOURNEY) is None:
                raise RuntimeError(f"example journey {SMOKE_JOURNEY!r} is not in the database")
            # An activated user (the win-back trigger skips Acquisition), moved there by the
            # shared transition so the funnel and history show it.
            user = User(id=user_id, email=f"{user_id}@example.com")
            session.add(user)
            session.flush()
            transition_stage(
                session,
                user=user,
                to_stage="Activation",
                reason="smoke check",
                details={},
                source="smoke",
            )
            session.commit()
        inactive = EventEnvelope(type="user.inactive", user_id=user_id)
        await send(inactive)

        def started() -> str | None:
            with sessions() as session:
                query = select(TriggerExecution).where(TriggerExecution.event_id == inactive.id)
                decision = session.exec(query).first()
            if decision is not None and decision.decision not in ("pending", "started"):
                raise RuntimeError(f"the trigger did not start it: {decision.reason}")
            return decision.temporal_workflow_id if decision is not None else None

        await _until(lambda: started() is not None)
        workflow_id = started()
        assert workflow_id is not None
        await send(EventEnvelope(type="session.started", user_id=user_id))
        handle = stack.client.get_workflow_handle(workflow_id, result_type=JourneyResult)
        result = await handle.result()
        if result.outcome != "won_back":
            raise RuntimeError(f"{SMOKE_JOURNEY} ended with {result.outcome!r}, not 'won_back'")
        steps = " > ".join(step.node_id for step in result.step_log)
        return f"{SMOKE_JOURNEY} from Kafka ({workflow_id}): {steps}"

    checks = [("api /health", api_health), ("smtp", mail), ("workflow", workflow)]
    if s.embedded_temporal:
        checks.insert(1, ("temporal ui", temporal_ui))
    checks.append(("kafka -> ingest", event))
    checks.append(("example journey", example_journey))
    try:
        return [await _check(name, run) for name, run in checks]
    finally:
        engine.dispose()


def _send_mail(settings: Settings, message: EmailMessage) -> None:
    with smtplib.SMTP(settings.resolved_smtp_host, settings.smtp_port, timeout=10) as smtp:
        smtp.send_message(message)


async def _until(condition: Callable[[], bool], timeout: float = CHECK_TIMEOUT_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while not await asyncio.to_thread(condition):
        if time.monotonic() > deadline:
            raise TimeoutError(f"not seen within {timeout:.0f}s")
        await asyncio.sleep(0.2)

"""What one event does: profile, audit log, trigger decisions, starts, and signals.

`handle` may run any number of times for the same event (redelivery, a retry after Temporal or
the database came back, a second consumer after a rebalance) and still leaves one decision per
(trigger, event), one run per decision and no second copy of the event in a run:

1. the decision of (trigger, event) is recorded before the start (`pending`) and replayed on
   every later delivery (planner.py);
2. the run's workflow id comes from trigger, user and dedupe value (or only trigger and user
   for `once`), and Temporal rejects a second start under an id (journey.starter);
3. runs drop a signalled event whose id they have seen (the workflow's dedupe patch), and the
   runs an event started are never signalled that event.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from dsl.document import JourneyDocument
from dsl.events import EventEnvelope
from dsl.interest import event_interest
from journey.core.config import Settings
from journey.core.db.engine import SessionFactory
from journey.ingest import batch, batch_records, records
from journey.ingest.planner import Plan, Planner, Start
from journey.ingest.trigger_cache import TriggerCache
from journey.services.runs.starter import start_run

log = logging.getLogger(__name__)

EventScope = Callable[[str], AbstractContextManager[object]]

# Events the batch path decides per transaction (see handle_together).
PLAN_CHUNK = 50


@dataclass
class Tally:
    """What the consumer did, for logs and tests."""

    events: int = 0
    recorded: int = 0
    duplicates: int = 0
    started: int = 0
    skipped: int = 0
    not_matched: int = 0
    signalled: int = 0
    dead_lettered: int = 0
    together: int = 0  # events the batch path handled (batch.py)

    def add(self, plan: Plan) -> None:
        self.recorded += plan.new_event
        self.duplicates += not plan.new_event
        self.skipped += plan.skipped
        self.not_matched += plan.not_matched


class EventDispatcher:
    def __init__(
        self,
        settings: Settings,
        session_factory: SessionFactory,
        client: Client,
        cache: TriggerCache,
        tally: Tally,
    ) -> None:
        self._settings = settings
        self._client = client
        self._cache = cache
        self._tally = tally
        self._planner = Planner(session_factory)
        self._batch = batch.BatchPlanner(self._planner)
        self._interest: dict[tuple[uuid.UUID, str], JourneyDocument | None] = {}

    async def handle(self, envelope: EventEnvelope) -> None:
        event = envelope.model_dump(mode="json")
        triggers = self._cache.matching(envelope.type)
        plan = await asyncio.to_thread(self._planner.plan, triggers, envelope)
        if plan.checks:
            answers = [(c.trigger, await self._running(c.open_workflow_ids)) for c in plan.checks]
            checked = await asyncio.to_thread(self._planner.decide_after_check, answers, envelope)
            plan.starts += checked.starts
            plan.own_runs |= checked.own_runs
            plan.skipped += checked.skipped
        self._tally.add(plan)
        run_ids = await asyncio.gather(*(self._start(start, event) for start in plan.starts))
        started = list(zip(plan.starts, run_ids, strict=True))
        targets = await asyncio.to_thread(
            self._planner.transactions.run,
            lambda session: self._finish(session, started, envelope, plan.own_runs),
        )
        for workflow_id in targets:
            await self._signal(workflow_id, event)
        self._tally.events += 1

    async def handle_together(
        self, envelopes: list[EventEnvelope], scope: EventScope = lambda _event_id: nullcontext()
    ) -> set[str]:
        """The batch path (batch.py) for the first events of a batch's user groups; -> the ids
        of the events it handled. The caller hands every other event to `handle`, and all of
        them when this raises. What is done for one event alone (its starts and signals) runs
        inside `scope(event id)`: the consumer's span and log scope of that event's message."""
        chosen = batch.candidates(envelopes, self._cache.matching)
        if len(chosen) < 2:  # one event: the usual path is just as quick
            return set()
        gate = asyncio.Semaphore(self._settings.ingest_concurrency)

        async def start(start: Start, c: batch.Candidate) -> tuple[Start, str]:
            async with gate:
                with scope(c.envelope.id):
                    return start, await self._start(start, c.event)

        async def signal(c: batch.Candidate, workflow_ids: list[str]) -> None:
            with scope(c.envelope.id):
                for workflow_id in workflow_ids:
                    await self._signal(workflow_id, c.event)

        # Planned in chunks, each chunk's runs starting while the next is planned: the starts
        # wait on Temporal and the planning on the database, so neither waits for the other.
        plans: list[tuple[batch.Candidate, Plan]] = []
        starting: list[asyncio.Task[tuple[Start, str]]] = []
        try:
            for first in range(0, len(chosen), PLAN_CHUNK):
                chunk = chosen[first : first + PLAN_CHUNK]
                planned = await asyncio.to_thread(self._batch.plan, chunk)
                plans += planned
                starting += [
                    asyncio.create_task(start(s, c)) for c, plan in planned for s in plan.starts
                ]
        finally:  # on a failure too: no start may outlive the batch
            outcomes = await asyncio.gather(*starting, return_exceptions=True)
        started = [outcome for outcome in outcomes if not isinstance(outcome, BaseException)]
        if len(started) < len(outcomes):
            raise next(o for o in outcomes if isinstance(o, BaseException))
        finish = lambda session: self._finish_all(session, started, plans)  # noqa: E731
        targets = await asyncio.to_thread(self._planner.transactions.run, finish)
        await asyncio.gather(*(signal(c, ids) for (c, _), ids in zip(plans, targets, strict=True)))
        for _, plan in plans:
            self._tally.add(plan)
        self._tally.events += len(plans)
        self._tally.together += len(plans)
        return {c.envelope.id for c, _ in plans}

    def _finish_all(
        self,
        session: Session,
        started: list[tuple[Start, str]],
        plans: list[tuple[batch.Candidate, Plan]],
    ) -> list[list[str]]:
        """`_finish` for the batch path: every start marked, every user's open runs read at
        once; -> per event, the other runs to signal."""
        records.mark_started(session, [(s.execution_id, s.decision_id, run) for s, run in started])
        runs = batch_records.open_run_keys(session, (c.envelope.user_id for c, _ in plans))
        return [
            [
                workflow_id
                for workflow_id, journey_id, version in runs[c.envelope.user_id]
                if workflow_id not in plan.own_runs
                and self._wants(session, (journey_id, version), c.envelope)
            ]
            for c, plan in plans
        ]

    async def _running(self, workflow_ids: list[str]) -> str | None:
        """An open run among these, confirmed by Temporal: the mirror is updated by a run's
        last activity, so a row can say `running` a moment after the run ended."""
        for workflow_id in workflow_ids:
            try:
                described = await self._client.get_workflow_handle(workflow_id).describe()
            except RPCError as exc:
                if exc.status == RPCStatusCode.NOT_FOUND:
                    continue
                raise
            if described.status == WorkflowExecutionStatus.RUNNING:
                return workflow_id
        return None

    async def _start(self, start: Start, event: dict[str, Any]) -> str:
        trigger = start.trigger
        assert trigger.journey is not None
        run_id, _ = await start_run(
            self._client,
            task_queue=self._settings.temporal_task_queue,
            snapshot=trigger.journey,
            user_id=start.user_id,
            workflow_id=start.workflow_id,
            throttled_actions=self._settings.throttled_actions,
            entry_event=event,
            create_profile=trigger.rule.create_profile,
        )
        self._tally.started += 1
        return run_id

    def _finish(
        self,
        session: Session,
        started: list[tuple[Start, str]],
        envelope: EventEnvelope,
        own_runs: set[str],
    ) -> list[str]:
        """Mark the acknowledged starts; -> the user's other open runs that want the event."""
        records.mark_started(session, [(s.execution_id, s.decision_id, run) for s, run in started])
        runs = records.open_run_keys(session, user_id=envelope.user_id)
        return [
            workflow_id
            for workflow_id, journey_id, version in runs
            if workflow_id not in own_runs and self._wants(session, (journey_id, version), envelope)
        ]

    def _wants(self, session: Any, key: tuple[uuid.UUID, str], envelope: EventEnvelope) -> bool:
        if key not in self._interest:
            definition = records.version_definition(session, *key)
            self._interest[key] = (
                JourneyDocument.model_validate(definition) if definition is not None else None
            )
        document = self._interest[key]
        return document is not None and event_interest(document).wants(envelope.type)

    async def _signal(self, workflow_id: str, event: dict[str, Any]) -> None:
        try:
            await self._client.get_workflow_handle(workflow_id).signal("event", event)
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:  # it ended since the mirror said open
                return
            raise
        self._tally.signalled += 1

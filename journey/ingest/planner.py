"""What an event does, decided in one transaction before anything is asked of Temporal.

For each trigger of the event's type the planner either replays the decision recorded when
the event was delivered before, or decides now and records it: `not_matched`, `skipped` (with
the reason) or `pending` (a start, with its reserved `workflow_executions` row). Recording the
decision before the start is what makes redelivery safe: re-entry policies depend on state
that changes (whether a run is still open), so an event must never be decided twice.
`if_not_running` needs Temporal's word on the open runs; those triggers are decided in a
second short transaction once it is in (`decide_after_check`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session, SQLModel

from dsl.events import EventEnvelope
from dsl.triggers import Reentry, TriggerDecision, evaluate_trigger, user_id_of
from journey.contracts.ids import trigger_workflow_id
from journey.core.db import rows
from journey.core.db.engine import SessionFactory
from journey.core.db.models import TriggerExecution, WorkflowExecution
from journey.ingest import records
from journey.ingest.transactions import Transactions
from journey.ingest.trigger_cache import LiveTrigger
from journey.services import users
from journey.services.lifecycle import stage_limit_reason
from journey.services.runs import executions


@dataclass
class Start:
    """A decided start Temporal has not acknowledged yet."""

    trigger: LiveTrigger
    decision_id: uuid.UUID
    execution_id: uuid.UUID
    user_id: str
    workflow_id: str


@dataclass
class RunningCheck:
    """An `if_not_running` trigger waiting for Temporal to say whether these runs are open."""

    trigger: LiveTrigger
    open_workflow_ids: list[str]


@dataclass
class Plan:
    new_event: bool = False
    starts: list[Start] = field(default_factory=list)
    checks: list[RunningCheck] = field(default_factory=list)
    own_runs: set[str] = field(default_factory=set)  # started by this event, now or before
    replayed: int = 0
    skipped: int = 0
    not_matched: int = 0


@dataclass
class PendingRows:
    """Decision and run rows the batch path inserts together before its transaction commits."""

    by_model: dict[type[SQLModel], list[dict[str, Any]]] = field(default_factory=dict)

    def add(self, model: type[SQLModel], values: dict[str, Any]) -> uuid.UUID:
        """Queue one row (the model's defaults filled in); -> its id."""
        row = rows.row_values(model, **values)
        self.by_model.setdefault(model, []).append(row)
        return row["id"]

    def insert(self, session: Session) -> None:
        for model, pending in self.by_model.items():
            rows.insert_rows(session, model, pending)


@dataclass
class Prefetched:
    """What the batch path (batch.py) looked up for all of its events at once, and the rows
    its decisions wait to insert."""

    profiles: dict[str, dict[str, Any] | None]
    started_for_dedupe: dict[tuple[str, str], str | None]
    pending: PendingRows = field(default_factory=PendingRows)

    def profile(self, user_id: str) -> dict[str, Any] | None:
        return self.profiles.get(user_id)


def start_key(workflow_id: str) -> str:
    """The reservation key of a trigger's start (workflow_executions.idempotency_key)."""
    return f"trigger:{workflow_id}"


class Planner:
    def __init__(self, session_factory: SessionFactory) -> None:
        self.transactions = Transactions(session_factory)

    def plan(self, triggers: list[LiveTrigger], envelope: EventEnvelope) -> Plan:
        event = envelope.model_dump(mode="json")
        return self.transactions.run(lambda session: self._plan(session, triggers, envelope, event))

    def decide_after_check(
        self, checks: list[tuple[LiveTrigger, str | None]], envelope: EventEnvelope
    ) -> Plan:
        """Decide `if_not_running` triggers given the run Temporal says is open (or None)."""
        event = envelope.model_dump(mode="json")

        def decide(session: Session) -> Plan:
            plan = Plan()
            for trigger, running in checks:
                if records.decision_for(session, trigger.id, envelope.id) is not None:
                    continue
                skip = f"if_not_running: {running} is running" if running else None
                self.decide(session, trigger, envelope, event, plan, forced_skip=skip)
            return plan

        return self.transactions.run(decide)

    def _plan(
        self,
        session: Session,
        triggers: list[LiveTrigger],
        envelope: EventEnvelope,
        event: dict[str, Any],
    ) -> Plan:
        plan = Plan()
        for trigger in triggers:
            user_id = user_id_of(trigger.rule, event)
            if trigger.rule.create_profile and user_id is not None:
                records.add_profile(session, user_id, envelope)
        plan.new_event = records.add_event(session, envelope)
        for trigger in triggers:
            prior = records.decision_for(session, trigger.id, envelope.id)
            if prior is None:
                self.decide(session, trigger, envelope, event, plan)
            else:
                self._replay(session, trigger, prior, plan)
        return plan

    def _replay(
        self, session: Session, trigger: LiveTrigger, prior: TriggerExecution, plan: Plan
    ) -> None:
        plan.replayed += 1
        workflow_id = prior.temporal_workflow_id
        if prior.decision not in records.ENTERED or workflow_id is None:
            return
        plan.own_runs.add(workflow_id)
        if prior.decision != "pending" or trigger.journey_row is None:
            return
        reserved = records.reserved_run(
            session, journey_id=trigger.journey_row.id, key=start_key(workflow_id)
        )
        assert reserved is not None and prior.user_id is not None  # written with the decision
        plan.starts.append(Start(trigger, prior.id, reserved.id, prior.user_id, workflow_id))

    def decide(
        self,
        session: Session,
        trigger: LiveTrigger,
        envelope: EventEnvelope,
        event: dict[str, Any],
        plan: Plan,
        forced_skip: str | None = None,
        prefetched: Prefetched | None = None,
    ) -> None:
        user_id = user_id_of(trigger.rule, event)
        if prefetched is not None and user_id is not None:
            profile = prefetched.profile(user_id)
        else:
            profile = users.profile(session, user_id) if user_id else None
        verdict = evaluate_trigger(trigger.rule, event, profile)
        decision = _Decision(session, trigger, envelope, verdict, known=profile is not None)
        started_for_dedupe = None
        if prefetched is not None:
            # Rows wait for the batch's one insert, and no reservation is looked up: a fresh
            # event's start cannot have one, and if it did, its unique index fails that insert.
            decision.pending = prefetched.pending
            key = (trigger.id, verdict.dedupe_value or "")
            started_for_dedupe = lambda: prefetched.started_for_dedupe.get(key)  # noqa: E731
        if not verdict.matched:
            decision.record("not_matched", "; ".join(verdict.reasons))
            plan.not_matched += 1
            return
        assert verdict.user_id is not None and verdict.dedupe_value is not None
        skip = forced_skip or self._skip_reason(
            session, trigger, envelope, verdict, profile, started_for_dedupe
        )
        if skip is None and forced_skip is None and trigger.rule.reentry is Reentry.IF_NOT_RUNNING:
            assert trigger.journey_row is not None
            open_ids = [
                row.temporal_workflow_id
                for row in records.open_runs(
                    session, user_id=verdict.user_id, journey_id=trigger.journey_row.id
                )
            ]
            if open_ids:  # Temporal decides; see decide_after_check
                plan.checks.append(RunningCheck(trigger, open_ids))
                return
        if skip is None and profile is None:
            document = trigger.journey.document if trigger.journey else None
            if trigger.rule.create_profile or (document and document.create_missing_profile):
                records.add_profile(session, verdict.user_id, envelope)  # the FKs need it
                decision.known = True
            else:
                skip = f"user {verdict.user_id!r} has no profile and create_profile is off"
        if skip is not None:
            decision.record("skipped", skip)
            plan.skipped += 1
            return
        plan.starts.append(decision.start())
        plan.own_runs.add(plan.starts[-1].workflow_id)

    @staticmethod
    def _skip_reason(
        session: Session,
        trigger: LiveTrigger,
        envelope: EventEnvelope,
        verdict: TriggerDecision,
        profile: dict[str, Any] | None = None,
        started_for_dedupe: Callable[[], str | None] | None = None,
    ) -> str | None:
        """Why a matching event must not start a run (database checks), or None.

        `started_for_dedupe` answers which run this trigger already started for the dedupe
        value from another event (the batch path looked them all up at once); by default it is
        asked of the database here."""
        if not trigger.journey_active:
            return "the journey is not active"
        document = trigger.journey.document if trigger.journey else None
        stage = profile.get("current_lifecycle_stage") if profile else None
        if (outside := stage_limit_reason(document, stage)) is not None:
            return outside  # the journey's restrict_to_stages
        assert verdict.user_id is not None and verdict.dedupe_value is not None
        ids = {"trigger_id": trigger.id, "event_id": envelope.id}
        if started_for_dedupe is None:
            same = records.same_dedupe_entry(session, dedupe_key=verdict.dedupe_value, **ids)
            started = same.temporal_workflow_id if same is not None else None
            found = same is not None
        else:
            started = started_for_dedupe()
            found = started is not None
        if found:
            return f"dedupe key {verdict.dedupe_value!r} already started {started}"
        rule = trigger.rule
        if rule.reentry is Reentry.ONCE:
            entry = records.earlier_entry(session, user_id=verdict.user_id, since=None, **ids)
            if entry is not None:
                return f"once: already entered by event {entry.event_id}"
        if rule.reentry is Reentry.ONCE_PER:
            assert rule.reentry_period is not None
            since = envelope.timestamp - rule.reentry_period
            entry = records.earlier_entry(session, user_id=verdict.user_id, since=since, **ids)
            if entry is not None:
                return f"once_per: entered at {entry.event_at} by event {entry.event_id}"
        return None


@dataclass
class _Decision:
    """Writes one (trigger, event) decision row, and for a start its reserved run row."""

    session: Session
    trigger: LiveTrigger
    envelope: EventEnvelope
    verdict: TriggerDecision
    known: bool
    # The batch path's rows: inserted all at once by the batch, with no reservation lookup.
    pending: PendingRows | None = None

    def record(
        self, decision: str, reason: str | None = None, workflow_id: str | None = None
    ) -> uuid.UUID:
        values: dict[str, Any] = dict(
            trigger_id=uuid.UUID(self.trigger.id),
            user_id=self.verdict.user_id if self.known else None,
            event_id=self.envelope.id,
            event_at=self.envelope.timestamp,
            event_data=self.envelope.model_dump(mode="json"),
            condition_met=decision != "not_matched",
            dedupe_key=self.verdict.dedupe_value,
            decision=decision,
            reason=reason[:4000] if reason else None,
            temporal_workflow_id=workflow_id,
        )
        if self.pending is not None:
            return self.pending.add(TriggerExecution, values)
        row = TriggerExecution(**values)
        self.session.add(row)
        self.session.flush()
        return row.id

    def start(self) -> Start:
        trigger, verdict = self.trigger, self.verdict
        assert trigger.journey_row is not None
        assert verdict.user_id is not None and verdict.dedupe_value is not None
        workflow_id = trigger_workflow_id(
            trigger.id,
            verdict.user_id,
            verdict.dedupe_value,
            once=trigger.rule.reentry is Reentry.ONCE,
        )
        decision_id = self.record("pending", workflow_id=workflow_id)
        key = start_key(workflow_id)
        values = executions.pending_values(
            journey=trigger.journey_row,
            user_id=verdict.user_id,
            temporal_workflow_id=workflow_id,
            idempotency_key=key,
            variables={},
        )
        if self.pending is not None:
            run_id = self.pending.add(WorkflowExecution, values)
        else:
            found = records.reserved_run(self.session, journey_id=trigger.journey_row.id, key=key)
            if found is None:
                found = WorkflowExecution(**values)
                self.session.add(found)
                self.session.flush()
            run_id = found.id
        return Start(trigger, decision_id, run_id, verdict.user_id, workflow_id)

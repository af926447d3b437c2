"""The batch path: the first event of every user group in a Kafka batch, decided together.

One event at a time, deciding costs about ten statements and two ORM flushes, and on a busy
topic that was most of the consumer's CPU (bench/README.md, kafka_start_rate). The first events
of different groups do not depend on each other when they touch different users and different
(trigger, dedupe value) pairs, so they are decided in one transaction with a handful of
multi-row statements, exactly as `Planner.decide` decides each; their runs are started
concurrently, and one more transaction marks them all started. The rest of each group then
goes the one-at-a-time way, in Kafka order, after its first event.

Whatever this path does not know how to decide alone goes the one-at-a-time way: an event
seen before, an `if_not_running` trigger (it needs Temporal's word first), an event sharing a
user or dedupe value with an earlier first event. And if anything fails here, every event of
the batch goes that way too, which is safe: decisions are recorded before starting, and the
one-at-a-time path replays them (dispatcher.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel import Session

from dsl.events import EventEnvelope
from dsl.triggers import Reentry, dedupe_value_of, user_id_of
from journey.ingest import batch_records
from journey.ingest.planner import Plan, Planner, Prefetched
from journey.ingest.trigger_cache import LiveTrigger
from journey.services.users import snapshot


@dataclass
class Candidate:
    envelope: EventEnvelope
    event: dict[str, Any]
    triggers: list[LiveTrigger]
    users: set[str]
    dedupe_pairs: set[tuple[str, str]]


def candidates(envelopes: list[EventEnvelope], matching: Any) -> list[Candidate]:
    """The events the batch path can decide together (see the module docstring), in order."""
    chosen: list[Candidate] = []
    users: set[str] = set()
    pairs: set[tuple[str, str]] = set()
    for envelope in envelopes:
        triggers: list[LiveTrigger] = matching(envelope.type)
        if any(t.rule.reentry is Reentry.IF_NOT_RUNNING for t in triggers):
            continue
        event = envelope.model_dump(mode="json")
        touched = {envelope.user_id} | {
            user for t in triggers if (user := user_id_of(t.rule, event)) is not None
        }
        keys = {
            (t.id, value) for t in triggers if (value := dedupe_value_of(t.rule, event)) is not None
        }
        if touched & users or keys & pairs:
            continue
        users |= touched
        pairs |= keys
        chosen.append(Candidate(envelope, event, triggers, touched, keys))
    return chosen


class BatchPlanner:
    def __init__(self, planner: Planner) -> None:
        self._planner = planner

    def plan(self, chosen: list[Candidate]) -> list[tuple[Candidate, Plan]]:
        """Decide and record every fresh candidate in one transaction; those seen before are
        left out (the one-at-a-time path replays them)."""
        return self._planner.transactions.run(lambda session: self._plan(session, chosen))

    def _plan(self, session: Session, chosen: list[Candidate]) -> list[tuple[Candidate, Plan]]:
        seen = batch_records.claimed(session, [c.envelope.id for c in chosen])
        fresh = [c for c in chosen if c.envelope.id not in seen]
        if not fresh:
            return []
        profiles = batch_records.users(session, set().union(*(c.users for c in fresh)))
        # The profiles the rules create come before the event is recorded (Planner._plan).
        wanted: dict[str, Any] = {}
        for c in fresh:
            for trigger in c.triggers:
                user_id = user_id_of(trigger.rule, c.event)
                if trigger.rule.create_profile and user_id and user_id not in profiles:
                    wanted.setdefault(user_id, c.envelope.properties)
        if wanted:
            made = batch_records.new_users(session, wanted)
            session.add_all(made)
            session.flush()
            profiles.update((user.id, user) for user in made)
        batch_records.claim(session, [c.envelope.id for c in fresh])
        batch_records.record_events(session, [c.envelope for c in fresh], set(profiles))
        prefetched = Prefetched(
            profiles={
                user_id: snapshot(user).model_dump(mode="json")
                for user_id, user in profiles.items()
            },
            started_for_dedupe=batch_records.started_for_dedupe(
                session, set().union(*(c.dedupe_pairs for c in fresh))
            ),
        )
        plans = []
        for c in fresh:
            plan = Plan(new_event=True)
            for trigger in c.triggers:
                self._planner.decide(
                    session, trigger, c.envelope, c.event, plan, prefetched=prefetched
                )
            assert not plan.checks  # if_not_running triggers never come this way
            plans.append((c, plan))
        session.flush()  # profiles a decision added go first: the rows below refer to them
        prefetched.pending.insert(session)
        return plans

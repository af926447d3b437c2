"""Turning what a simulated run did into a timeline a person can read.

The run's own step log (virtual start and end of every node visit, and where it went next) is
the spine; the stand-ins' records of what each action would have sent are attached to the
visit they belong to (the effect key ends in the visit number); delivered events and the end
of the run are entries of their own. Entries are ordered by virtual time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from temporalio.client import WorkflowExecutionStatus

from dsl.document import JourneyDocument
from dsl.durations import format_duration
from dsl.nodes import NodeBase, SubJourneyNode, WaitForEventNode
from journey.contracts.runs import JourneyState, StepLogEntry
from journey.simulation.models import (
    EffectRecord,
    EventDelivery,
    Scenario,
    SimulationResult,
    SimulationStatus,
    TimelineEntry,
)
from journey.simulation.stand_ins import Recorder

__all__ = ["RunRecord", "build_result"]


@dataclass(frozen=True)
class RunRecord:
    label: str  # "main", or "main/<sub_journey node id>" for a sub-journey's run
    workflow_id: str
    status: WorkflowExecutionStatus | None
    closed_at: datetime | None
    state: JourneyState | None
    error: str | None = None
    document: JourneyDocument | None = None


def _offset(delta: timedelta) -> str:
    # The virtual clock also moves while the worker computes; whole seconds read better.
    return format_duration(timedelta(seconds=round(max(delta, timedelta(0)).total_seconds())))


def _next_of(step: StepLogEntry) -> str | None:
    detail = step.detail or ""
    return detail[len("next: ") :] if detail.startswith("next: ") else None


def _value(value: Any) -> str:
    return repr(value) if isinstance(value, str) else str(value)


def _operations(details: dict[str, Any]) -> str:
    parts = []
    for op in details.get("operations", []):
        if not isinstance(op, dict):
            continue
        kind, path = op.get("op"), op.get("path")
        if kind == "set":
            parts.append(f"set {path} = {_value(op.get('value'))}")
        elif kind == "increment":
            parts.append(f"increment {path} by {_value(op.get('by', 1))}")
        elif kind == "append":
            parts.append(f"append {_value(op.get('value'))} to {path}")
        else:
            parts.append(f"{kind} {path}")
    return ", ".join(parts)


def _effect_summary(effect: EffectRecord) -> str:
    d = effect.details
    if effect.outcome == "failed":
        return f"{effect.action} failed: {d.get('error')}"
    if effect.action == "email":
        if effect.outcome != "sent":
            return f"email not sent ({effect.outcome}: {d.get('reason')})"
        return f"email would be sent to {d.get('to')}: {d.get('subject')!r}"
    if effect.action == "webhook":
        return f"webhook would {d.get('method')} {d.get('url')} ({effect.outcome}, simulated)"
    if effect.action == "update_attributes":
        changed = "would change" if effect.outcome == "applied" else "stay the same"
        return f"attributes {changed}: {_operations(d)}"
    if effect.action == "lifecycle_transition":
        if effect.outcome == "applied":
            return f"stage would change {d.get('from_stage')} → {d.get('to_stage')}"
        return f"already in stage {d.get('to_stage')}"
    event = d.get("event", {})
    return f"event {event.get('type')} would be published to {d.get('topic')}"


def _step_summary(
    node: NodeBase | None, step: StepLogEntry, run: RunRecord, effect: EffectRecord | None
) -> str:
    kind = step.type
    target = _next_of(step)
    if step.outcome is None:
        waiting = run.state.waiting_for if run.state else None
        return f"{kind}: still waiting ({waiting})" if waiting else f"{kind}: still running"
    if effect is not None:
        text = _effect_summary(effect)
    elif step.outcome == "failed" and run.error:
        text = f"{kind} failed: {run.error}"  # the run's failure, with its causes
    elif step.outcome in ("error", "failed"):
        text = f"{kind} failed: {step.detail}"
    elif kind == "wait_for_event" and isinstance(node, WaitForEventNode):
        waited = _offset((step.finished_at or step.started_at) - step.started_at)
        if target == node.on_event:
            text = f"received {node.event_type} after {waited}"
        else:
            text = f"no {node.event_type} within {format_duration(node.timeout)}: timed out"
    elif kind == "delay":
        text = f"waited {_offset((step.finished_at or step.started_at) - step.started_at)}"
    elif kind == "split":
        variants = (run.state.variables.get("variants") if run.state else None) or {}
        text = f"variant {variants.get(step.node_id)}"
    elif kind == "sub_journey" and isinstance(node, SubJourneyNode):
        outcomes = (run.state.variables.get("sub_journeys") if run.state else None) or {}
        ended = outcomes.get(step.node_id)
        text = f"sub-journey {node.journey_id} " + (
            f"ended with outcome {ended}" if ended else "started (not awaited)"
        )
    elif kind == "end":
        text = f"run ends with outcome {getattr(node, 'outcome', None)}"
    else:
        text = kind
    if step.outcome == "error":
        return f"{text} → on_error {target}" if target else f"{text} → on_error"
    return f"{text} → {target}" if target and kind != "end" else text


def _visit(effect_visits: dict[tuple[str, str], int], workflow_id: str, node_id: str) -> int:
    key = (workflow_id, node_id)
    effect_visits[key] = effect_visits.get(key, 0) + 1
    return effect_visits[key]


def _node_entries(run: RunRecord, start: datetime, recorder: Recorder) -> list[TimelineEntry]:
    if run.state is None:
        return []
    nodes = run.document.node_map() if run.document is not None else {}
    visits: dict[tuple[str, str], int] = {}
    entries = []
    for step in run.state.step_log:
        visit = _visit(visits, run.workflow_id, step.node_id)
        effect = recorder.effects.get((run.workflow_id, step.node_id, visit))
        entries.append(
            TimelineEntry(
                at=step.started_at,
                offset=_offset(step.started_at - start),
                offset_seconds=round((step.started_at - start).total_seconds(), 3),
                kind="node",
                run=run.label,
                node_id=step.node_id,
                node_type=step.type,
                summary=_step_summary(nodes.get(step.node_id), step, run, effect),
                outcome=step.outcome or "open",
                finished_offset=_offset(step.finished_at - start) if step.finished_at else None,
                effect=effect,
            )
        )
    return entries


def _event_entry(delivery: EventDelivery, start: datetime) -> TimelineEntry:
    kind = delivery.envelope["type"]
    summary = (
        f"event {kind} arrives"
        if delivery.delivered
        else f"event {kind} not delivered: the run had already ended"
    )
    return TimelineEntry(
        at=delivery.at,
        offset=_offset(delivery.at - start),
        offset_seconds=round(delivery.offset.total_seconds(), 3),
        kind="event",
        summary=summary,
        outcome="delivered" if delivery.delivered else "not_delivered",
        event=delivery.envelope,
    )


def _status(main: RunRecord | None, timed_out: bool) -> SimulationStatus:
    if main is None or main.status is None:
        return "timed_out" if timed_out else "failed"
    if main.status == WorkflowExecutionStatus.COMPLETED:
        return "completed"
    if main.status == WorkflowExecutionStatus.RUNNING:
        return "timed_out" if timed_out else "waiting"
    return "failed"


def _end_summary(status: str, main: RunRecord | None, scenario: Scenario) -> str:
    state = main.state if main else None
    if status == "completed":
        return f"run completed with outcome {state.outcome if state else None}"
    if status == "failed":
        return f"run failed: {main.error if main else 'it could not be started'}"
    where = ", ".join(state.current_nodes) if state and state.current_nodes else "?"
    waiting = f" ({state.waiting_for})" if state and state.waiting_for else ""
    if status == "waiting":
        return (
            f"still waiting at node {where}{waiting} when the horizon "
            f"{format_duration(scenario.horizon)} ended; the simulated run was terminated"
        )
    return f"the real-time limit ended the simulation at node {where}{waiting}; terminated"


def build_result(
    *,
    start: datetime,
    scenario: Scenario,
    runs: list[RunRecord],
    deliveries: list[EventDelivery],
    recorder: Recorder,
    timed_out: bool,
    now: datetime | None = None,
) -> SimulationResult:
    main = next((run for run in runs if run.label == "main"), None)
    entries: list[TimelineEntry] = []
    for run in runs:
        entries.extend(_node_entries(run, start, recorder))
    entries.extend(_event_entry(delivery, start) for delivery in deliveries)
    status = _status(main, timed_out)
    ended = main.closed_at if main and status in ("completed", "failed") else None
    end_at = ended or now or start + scenario.horizon
    # A run stopped early may have begun a step while the clock was read: the end comes last.
    end_at = max([end_at, *(entry.at for entry in entries if entry.kind == "node")])
    entries.append(
        TimelineEntry(
            at=end_at,
            offset=_offset(end_at - start),
            offset_seconds=round((end_at - start).total_seconds(), 3),
            kind="end",
            summary=_end_summary(status, main, scenario),
            outcome=status,
        )
    )
    # Stable: within one instant, steps keep their log order and an event follows the step
    # that was running when it arrived.
    entries.sort(key=lambda entry: entry.at)
    state = main.state if main else None
    mirror = recorder.outcomes.get(main.workflow_id) if main else None
    done = {"sent", "applied"}
    effects: dict[str, int] = {}
    for effect in recorder.effects.values():
        if effect.outcome in done or effect.outcome.startswith("answered"):
            effects[effect.action] = effects.get(effect.action, 0) + 1
    return SimulationResult(
        status=status,
        outcome=state.outcome if state and status == "completed" else None,
        goal_reached=mirror.goal_reached if mirror else None,
        error=main.error if main and status == "failed" else None,
        started_at=start,
        horizon=format_duration(scenario.horizon),
        ended_at=ended,
        ended_offset=_offset(ended - start) if ended else None,
        waiting_at=list(state.current_nodes) if state and status != "completed" else [],
        waiting_for=state.waiting_for if state and status != "completed" else None,
        timeline=entries,
        effects=effects,
        user=recorder.user.model_dump(mode="json"),
        variables=state.variables if state else {},
    )

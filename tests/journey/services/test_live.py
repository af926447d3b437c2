"""Turning a run's step log into transition events with resumable ids (journey/services/live.py).

Following real runs over SSE and WebSocket: tests/api/test_live_stream.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from journey.contracts.runs import JourneyState, StepLogEntry
from journey.services.live import RunEvent, parse_position, transitions

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


def step(node: str, kind: str, start: datetime, end: datetime | None) -> StepLogEntry:
    outcome = "ok" if end else None
    return StepLogEntry(node_id=node, type=kind, started_at=start, finished_at=end, outcome=outcome)


def state(*steps: StepLogEntry) -> JourneyState:
    return JourneyState(
        journey_id="j",
        version="1",
        user_id="u",
        status="running",
        current_nodes=[],
        waiting_for=None,
        variables={},
        step_log=list(steps),
        outcome=None,
    )


LATER = T0 + timedelta(hours=2)
WAITING = state(step("check", "condition", T0, T0), step("wait", "wait_for_event", T0, None))
DONE = state(
    step("check", "condition", T0, T0),
    step("wait", "wait_for_event", T0, LATER),
    step("end", "end", LATER, LATER),
)


def names(events: list[RunEvent]) -> list[tuple[str, str]]:
    return [(event.event, event.data["node_id"]) for event in events]


def test_steps_of_one_instant_keep_their_order_and_ids_only_grow() -> None:
    events = transitions(DONE)
    assert names(events) == [
        ("node_entered", "check"),
        ("node_completed", "check"),
        ("node_entered", "wait"),
        ("node_completed", "wait"),
        ("node_entered", "end"),
        ("node_completed", "end"),
    ]
    positions = [parse_position(event.id or "") for event in events]
    assert positions == sorted(positions) and len(set(positions)) == len(positions)
    assert events[3].data["at"] == LATER.isoformat() and events[3].data["outcome"] == "ok"


def test_a_later_state_repeats_the_same_ids_and_resumes_after_one() -> None:
    early, late = transitions(WAITING), transitions(DONE)
    assert [event.id for event in early] == [event.id for event in late[:3]]
    rest = transitions(DONE, after=parse_position(early[-1].id or ""))
    assert rest == late[3:]


def test_only_ids_this_stream_made_are_accepted() -> None:
    for bad in ("", "end", "12", "12-x", "-1-2"):
        with pytest.raises(ValueError, match="not an event id"):
            parse_position(bad)

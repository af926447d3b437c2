"""A local activity's failure is handled like a regular activity's: it reaches the node's
`on_error`, and a failed end-of-run mirror is a warning, not a failed run.

Local activities (the short database steps of lean runs) raise their failure unwrapped, not as
an `ActivityError`; before the `local-failures-reach-on-error` patch that failed the run.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text
from temporalio.client import WorkflowFailureError

from tests.workflows.conftest import JourneyRunner
from workflows.patches import LOCAL_FAILURES_REACH_ON_ERROR


def bad_increment(on_error: str | None) -> dict[str, object]:
    count = {
        "id": "count",
        "type": "update_attributes",
        "next": "fin",
        "operations": [{"op": "increment", "path": "visits", "by": 1}],
    }
    nodes: list[dict[str, object]] = [count, {"id": "fin", "type": "end"}]
    if on_error:
        count["on_error"] = on_error
        nodes.append({"id": on_error, "type": "end"})
    return {"name": "bad increment", "start": "count", "nodes": nodes}


async def test_a_failed_database_step_takes_its_on_error_branch(
    journey_runner: JourneyRunner,
) -> None:
    journey_runner.seed_user("u1", attributes={"visits": "many"})  # not a number
    handle = await journey_runner.start(bad_increment("fallback"))
    result = await handle.result()
    assert [step.node_id for step in result.step_log] == ["count", "fallback"]
    assert result.step_log[0].outcome == "error"
    assert "AttributeTypeError" in str(result.step_log[0].detail)
    history = await handle.fetch_history()
    assert LOCAL_FAILURES_REACH_ON_ERROR.encode() in b"".join(
        e.marker_recorded_event_attributes.SerializeToString()
        for e in history.events
        if e.HasField("marker_recorded_event_attributes")
    )


async def test_without_on_error_the_run_fails_with_the_node_named(
    journey_runner: JourneyRunner,
) -> None:
    journey_runner.seed_user("u1", attributes={"visits": "many"})
    with pytest.raises(WorkflowFailureError) as failure:
        await journey_runner.run(bad_increment(None))
    cause = str(failure.value.cause)
    assert "node count (update_attributes) failed" in cause and "AttributeTypeError" in cause


async def test_a_run_whose_end_cannot_be_mirrored_still_completes(
    journey_runner: JourneyRunner,
) -> None:
    """The mirror (a local activity in lean runs) fails all five attempts: the run logs it and
    completes, as it did when the mirror was a regular activity."""
    journey_runner.seed_user("u1")
    with journey_runner.sessions() as session:  # every mirror attempt now fails
        session.exec(text("ALTER TABLE workflow_executions RENAME TO gone"))  # type: ignore[call-overload]
        session.commit()
    document = {"name": "ends", "start": "done", "nodes": [{"id": "done", "type": "end"}]}
    handle = await journey_runner.start(document)
    assert (await handle.result()).outcome == "completed"
    history = await handle.fetch_history()
    assert LOCAL_FAILURES_REACH_ON_ERROR.encode() in b"".join(
        e.marker_recorded_event_attributes.SerializeToString()
        for e in history.events
        if e.HasField("marker_recorded_event_attributes")
    )

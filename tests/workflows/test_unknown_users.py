"""A user id without a profile: created only where the journey allows it, else a clear error."""

from __future__ import annotations

from typing import Any

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ApplicationError

from journey.core.db.models import User
from tests.workflows.conftest import JourneyRunner


def counting(**extra: Any) -> dict[str, Any]:
    return {
        "name": "count visits",
        "start": "count",
        "nodes": [
            {
                "id": "count",
                "type": "update_attributes",
                "next": "fin",
                "operations": [{"op": "increment", "path": "visits"}],
                **extra,
            },
            {"id": "fin", "type": "end"},
            {"id": "no_profile", "type": "end", "outcome": "no_profile"},
        ],
    }


async def test_without_permission_an_action_fails_with_unknown_user(
    skipping_runner: JourneyRunner,
) -> None:
    document = counting()
    document["nodes"].pop()  # no on_error target needed
    with pytest.raises(WorkflowFailureError) as failure:
        await skipping_runner.run(document, user_id="stranger")
    cause = failure.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type == "UnknownUser" and cause.non_retryable
    assert "'stranger' has no profile" in str(cause)
    with skipping_runner.sessions() as session:
        assert session.get(User, "stranger") is None


async def test_on_error_catches_an_unknown_user(skipping_runner: JourneyRunner) -> None:
    result = await skipping_runner.run(counting(on_error="no_profile"), user_id="stranger")
    assert result.outcome == "no_profile"
    assert result.step_log[0].detail is not None
    assert result.step_log[0].detail.startswith("UnknownUser")


async def test_a_journey_that_allows_it_creates_the_profile(
    skipping_runner: JourneyRunner,
) -> None:
    document = {**counting(), "create_missing_profile": True}
    document["nodes"].pop()
    result = await skipping_runner.run(document, user_id="newcomer")
    assert result.outcome == "completed"
    user = skipping_runner.user("newcomer")
    assert (user.attributes, user.current_lifecycle_stage) == ({"visits": 1}, "Acquisition")

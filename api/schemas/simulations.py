"""Request and response models of `POST /api/workflows/{id}/simulate`.

The body is a simulation scenario (journey/simulation/models.py) plus the version to simulate;
the answer is the simulation's result. Pydantic checks the shape (422 with the JSON pointer of
each bad field); the route adds what needs the journey (an event after the horizon, a webhook
answer for a node that is not a webhook), located the same way.
"""

from __future__ import annotations

from fastapi.openapi.models import Example
from pydantic import Field

from journey.simulation.models import Scenario, SimulationResult

__all__ = ["SimulationRequest", "SimulationResult", "simulate_examples"]


class SimulationRequest(Scenario):
    version: str | None = Field(
        default=None, max_length=50, description="A stored version; the current one by default."
    )


def simulate_examples() -> dict[str, Example]:
    return {
        "onboarding": Example(
            summary="Onboarding: the user activates on day two",
            value={
                "user": {
                    "id": "ada",
                    "email": "ada@example.com",
                    "attributes": {"first_name": "Ada"},
                },
                "entry_event": {"type": "signup", "properties": {"plan": "pro"}},
                "events": [{"at": "P2D", "type": "activated"}],
                "horizon": "P30D",
            },
        ),
        "timeout": Example(
            summary="No event: every timeout fires, the webhook gets a 201",
            value={
                "user": {"id": "bo", "email": "bo@example.com"},
                "entry_event": {"type": "signup"},
                "webhook_responses": {"tell_crm": {"status": 201, "body": {"ok": True}}},
            },
        ),
    }

"""Checking a simulation's inputs, every problem at once, located by JSON pointer.

Shared by `journey simulate` (files) and the API (one body): a user that is not a profile,
events that are not a list of `{at, type, ...}`, an event after the horizon, a webhook answer
for a node that is no webhook. A sub-journey whose journey is not at hand is not a problem of
the input: the simulated run fails at that node, as the real one would.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError

from dsl.document import JourneyDocument
from dsl.durations import format_duration
from dsl.nodes import SubJourneyNode, WebhookNode
from dsl.problems import Problem, pointer
from journey.simulation.models import Scenario, SimulatedEvent

__all__ = ["parse_events", "parse_model", "scenario_problems", "sub_journey_ids"]

ModelT = TypeVar("ModelT", bound=BaseModel)

_EVENTS = TypeAdapter(list[SimulatedEvent])


def pydantic_problems(exc: ValidationError, prefix: tuple[str | int, ...] = ()) -> list[Problem]:
    return [
        Problem(path=pointer(*prefix, *error["loc"]), code=error["type"], message=error["msg"])
        for error in exc.errors(include_url=False)
    ]


def parse_events(data: Any) -> tuple[list[SimulatedEvent] | None, list[Problem]]:
    try:
        return _EVENTS.validate_python(data), []
    except ValidationError as exc:
        return None, pydantic_problems(exc)


def parse_model(model: type[ModelT], data: Any) -> tuple[ModelT | None, list[Problem]]:
    try:
        return model.model_validate(data), []
    except ValidationError as exc:
        return None, pydantic_problems(exc)


def sub_journey_ids(documents: Iterable[JourneyDocument]) -> list[str]:
    """The journeys the documents' sub_journey nodes start, in order of appearance."""
    found: dict[str, None] = {}
    for document in documents:
        for node in document.nodes:
            if isinstance(node, SubJourneyNode):
                found.setdefault(node.journey_id, None)
    return list(found)


def scenario_problems(document: JourneyDocument, scenario: Scenario) -> list[Problem]:
    """What makes this scenario impossible to simulate for this journey (besides its shape)."""
    problems = []
    for index, event in enumerate(scenario.events):
        if event.at > scenario.horizon:
            problems.append(
                Problem(
                    path=pointer("events", index, "at"),
                    code="after_horizon",
                    message=f"{format_duration(event.at)} is after the horizon "
                    f"{format_duration(scenario.horizon)}; raise `horizon` to deliver it",
                )
            )
    webhooks = {node.id for node in document.nodes if isinstance(node, WebhookNode)}
    for node_id in scenario.webhook_responses:
        if node_id not in webhooks:
            problems.append(
                Problem(
                    path=pointer("webhook_responses", node_id),
                    code="not_a_webhook",
                    message=f"the journey has no webhook node {node_id!r}",
                )
            )
    return problems

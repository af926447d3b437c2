"""The one registry of node handlers, shared by the worker, the replayer and the tests.

Unknown or duplicate node types fail loudly: at import for duplicates, at lookup for unknowns
(validation rejects unknown types before a run starts, so a miss here is a bug).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.context import RunContext
    from workflows.nodes import (
        condition,
        delay,
        email,
        emit_event,
        end,
        lifecycle_transition,
        parallel,
        split,
        sub_journey,
        update_attributes,
        wait_for_event,
        webhook,
    )

Handler = Callable[[Any, RunContext], Awaitable[str | None]]


class UnknownNodeType(KeyError):
    pass


def build_registry(entries: Iterable[tuple[str, Handler]]) -> Mapping[str, Handler]:
    registry: dict[str, Handler] = {}
    for node_type, handler in entries:
        if node_type in registry:
            raise ValueError(f"node type {node_type!r} registered twice")
        registry[node_type] = handler
    return MappingProxyType(registry)


NODE_HANDLERS = build_registry(
    [
        ("email", email.run),
        ("webhook", webhook.run),
        ("update_attributes", update_attributes.run),
        ("emit_event", emit_event.run),
        ("lifecycle_transition", lifecycle_transition.run),
        ("condition", condition.run),
        ("split", split.run),
        ("delay", delay.run),
        ("wait_for_event", wait_for_event.run),
        ("parallel", parallel.run),
        ("sub_journey", sub_journey.run),
        ("end", end.run),
    ]
)

# Nodes after which the user's profile may have changed outside the run.
WAITING_TYPES = frozenset({"delay", "wait_for_event"})


def handler_for(node_type: str) -> Handler:
    try:
        return NODE_HANDLERS[node_type]
    except KeyError:
        raise UnknownNodeType(f"no handler registered for node type {node_type!r}") from None

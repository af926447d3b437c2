"""The one registry of node handlers, shared by the worker, the replayer and the tests.

Each handler is registered with the DSL model it takes (`NodeHandler`), so mypy checks the
handler against its model and `build_registry` checks the model against the DSL's own
`NODE_REGISTRY`. Unknown or duplicate node types fail loudly: at import for duplicates and
mismatched models, at lookup for unknowns (validation rejects unknown types before a run
starts, so a miss here is a bug).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Generic, TypeVar

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from dsl.nodes import (
        NODE_REGISTRY,
        ConditionNode,
        DelayNode,
        EmailNode,
        EmitEventNode,
        EndNode,
        LifecycleTransitionNode,
        NodeBase,
        ParallelNode,
        SplitNode,
        SubJourneyNode,
        UpdateAttributesNode,
        WaitForEventNode,
        WebhookNode,
        node_type_name,
    )
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

N = TypeVar("N", bound=NodeBase)


class UnknownNodeType(KeyError):
    pass


@dataclass(frozen=True)
class NodeHandler(Generic[N]):
    """A node type's handler with the model it takes; `run` returns the next node id (`None`
    ends a parallel branch)."""

    model: type[N]
    run: Callable[[N, RunContext], Awaitable[str | None]]

    @property
    def node_type(self) -> str:
        return node_type_name(self.model)

    async def __call__(self, node: NodeBase, ctx: RunContext) -> str | None:
        """Dispatch a node of any type here: the one place a `NodeBase` becomes an `N`.

        The interpreter looks the handler up by `node.type`, and pydantic parsed the node into
        the model of that type, so the check never fails unless the registry is wrong."""
        if not isinstance(node, self.model):
            raise TypeError(
                f"the {self.node_type!r} handler takes {self.model.__name__}, "
                f"not {type(node).__name__}"
            )
        return await self.run(node, ctx)


def build_registry(handlers: Iterable[NodeHandler[Any]]) -> Mapping[str, NodeHandler[Any]]:
    """Map type name -> handler, refusing a type registered twice or a handler whose model is
    not the one the DSL parses that type into (its nodes would never reach it)."""
    registry: dict[str, NodeHandler[Any]] = {}
    for handler in handlers:
        node_type = handler.node_type
        if node_type in registry:
            raise ValueError(f"node type {node_type!r} registered twice")
        dsl_model = NODE_REGISTRY.get(node_type)
        if dsl_model is not handler.model:
            expected = dsl_model.__name__ if dsl_model else "no model"
            raise ValueError(
                f"the {node_type!r} handler takes {handler.model.__name__}, "
                f"but the DSL has {expected} for that type"
            )
        registry[node_type] = handler
    return MappingProxyType(registry)


# A bare tuple, not a list passed straight to `build_registry`: there the expected
# `NodeHandler[Any]` would let mypy infer `N = Any` and accept a handler of another model.
_HANDLERS = (
    NodeHandler(EmailNode, email.run),
    NodeHandler(WebhookNode, webhook.run),
    NodeHandler(UpdateAttributesNode, update_attributes.run),
    NodeHandler(EmitEventNode, emit_event.run),
    NodeHandler(LifecycleTransitionNode, lifecycle_transition.run),
    NodeHandler(ConditionNode, condition.run),
    NodeHandler(SplitNode, split.run),
    NodeHandler(DelayNode, delay.run),
    NodeHandler(WaitForEventNode, wait_for_event.run),
    NodeHandler(ParallelNode, parallel.run),
    NodeHandler(SubJourneyNode, sub_journey.run),
    NodeHandler(EndNode, end.run),
)
NODE_HANDLERS = build_registry(_HANDLERS)

# Nodes after which the user's profile may have changed outside the run.
WAITING_TYPES = frozenset({"delay", "wait_for_event"})


def handler_for(node_type: str) -> NodeHandler[Any]:
    try:
        return NODE_HANDLERS[node_type]
    except KeyError:
        raise UnknownNodeType(f"no handler registered for node type {node_type!r}") from None

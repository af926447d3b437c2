"""Every node type of the DSL: a discriminated union on `type` and an explicit registry.

One module per node type; this package only assembles them. The registry is built by a
function that refuses duplicate type names, so adding a node type that collides is an import
error rather than a silently shadowed model.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated

from pydantic import Field

from dsl.nodes.base import ActionNode, NodeBase, RetryPolicy
from dsl.nodes.condition import Branch, ConditionNode
from dsl.nodes.delay import (
    DelayNode,
    UntilTime,
    is_valid_timezone,
    next_allowed_local_time,
    pick_timezone,
    resolve_timezone,
)
from dsl.nodes.email import EmailNode
from dsl.nodes.emit_event import EmitEventNode
from dsl.nodes.end import EndNode
from dsl.nodes.lifecycle_transition import LifecycleTransitionNode
from dsl.nodes.parallel import ParallelNode
from dsl.nodes.split import SplitNode, Variant, choose_variant
from dsl.nodes.sub_journey import SubJourneyNode
from dsl.nodes.update_attributes import Operation, UpdateAttributesNode
from dsl.nodes.wait_for_event import WaitForEventNode
from dsl.nodes.webhook import WebhookNode

Node = Annotated[
    EmailNode
    | WebhookNode
    | UpdateAttributesNode
    | EmitEventNode
    | LifecycleTransitionNode
    | SubJourneyNode
    | ConditionNode
    | SplitNode
    | DelayNode
    | WaitForEventNode
    | ParallelNode
    | EndNode,
    Field(discriminator="type"),
]
"""Any node; pydantic picks the model by `type`."""

NODE_MODELS: tuple[type[NodeBase], ...] = (
    EmailNode,
    WebhookNode,
    UpdateAttributesNode,
    EmitEventNode,
    LifecycleTransitionNode,
    SubJourneyNode,
    ConditionNode,
    SplitNode,
    DelayNode,
    WaitForEventNode,
    ParallelNode,
    EndNode,
)


def node_type_name(model: type[NodeBase]) -> str:
    """The `type` literal a node model is discriminated by."""
    default = model.model_fields["type"].default
    if not isinstance(default, str):
        raise TypeError(f"{model.__name__}.type has no string default")
    return default


def build_registry(models: Iterable[type[NodeBase]]) -> dict[str, type[NodeBase]]:
    """Map type name -> model, raising ValueError when two models claim the same type."""
    registry: dict[str, type[NodeBase]] = {}
    for model in models:
        name = node_type_name(model)
        if name in registry:
            raise ValueError(
                f"node type {name!r} is defined by both {registry[name].__name__} "
                f"and {model.__name__}"
            )
        registry[name] = model
    return registry


NODE_REGISTRY: dict[str, type[NodeBase]] = build_registry(NODE_MODELS)
NODE_TYPES: frozenset[str] = frozenset(NODE_REGISTRY)
ACTION_NODE_TYPES: frozenset[str] = frozenset(
    name for name, model in NODE_REGISTRY.items() if issubclass(model, ActionNode)
)

__all__ = [
    "ACTION_NODE_TYPES",
    "NODE_MODELS",
    "NODE_REGISTRY",
    "NODE_TYPES",
    "ActionNode",
    "Branch",
    "ConditionNode",
    "DelayNode",
    "EmailNode",
    "EmitEventNode",
    "EndNode",
    "LifecycleTransitionNode",
    "Node",
    "NodeBase",
    "Operation",
    "ParallelNode",
    "RetryPolicy",
    "SplitNode",
    "SubJourneyNode",
    "UntilTime",
    "UpdateAttributesNode",
    "Variant",
    "WaitForEventNode",
    "WebhookNode",
    "build_registry",
    "choose_variant",
    "is_valid_timezone",
    "next_allowed_local_time",
    "node_type_name",
    "pick_timezone",
    "resolve_timezone",
]

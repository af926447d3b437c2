"""`split`: a sticky weighted A/B split.

The variant is a pure function of (node id, user id) via SHA-256, so replaying the workflow, a
second run for the same user, or a later SQL report all agree on who got what. Python's hash()
is salted per process and must never be used here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Literal

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from dsl.common import NodeId, StrictModel
from dsl.nodes.base import NodeBase


class Variant(StrictModel):
    name: str = Field(min_length=1)
    weight: int = Field(gt=0)
    next: NodeId


class SplitNode(NodeBase):
    type: Literal["split"] = "split"
    variants: list[Variant] = Field(min_length=2)

    @model_validator(mode="after")
    def _unique_names(self) -> SplitNode:
        names = [variant.name for variant in self.variants]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise PydanticCustomError(
                "duplicate_variant",
                "variant names must be unique: {names}",
                {"names": ", ".join(duplicates)},
            )
        return self

    def transitions(self) -> list[tuple[str, str]]:
        return [(f"variants/{i}/next", variant.next) for i, variant in enumerate(self.variants)]


def bucket(user_id: str, node_id: str, total: int) -> int:
    """A stable integer in [0, total) for this user at this node."""
    digest = hashlib.sha256(f"{node_id}:{user_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % total


def choose_variant(variants: Sequence[Variant], user_id: str, node_id: str) -> Variant:
    """The variant this user gets at this node; deterministic and weight-proportional."""
    if not variants:
        raise ValueError("choose_variant needs at least one variant")
    point = bucket(user_id, node_id, sum(variant.weight for variant in variants))
    for variant in variants:
        if point < variant.weight:
            return variant
        point -= variant.weight
    raise AssertionError("unreachable: point is below the total weight")

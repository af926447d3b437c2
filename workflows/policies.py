"""Timeouts and retry policies per node type: the one table a node's own settings override."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from temporalio.common import RetryPolicy

from dsl.nodes.base import RetryPolicy as NodeRetryPolicy


@dataclass(frozen=True, kw_only=True)
class ActionPolicy:
    """A node type's attempt timeout and retry defaults; `maximum_attempts` 0 is unlimited.

    Keyword-only: five numbers in a row are easy to put in the wrong order unnoticed."""

    start_to_close: timedelta
    maximum_attempts: int
    initial_interval: timedelta
    backoff_coefficient: float
    maximum_interval: timedelta


_S = timedelta(seconds=1)
_M = timedelta(minutes=1)

DEFAULTS: dict[str, ActionPolicy] = {
    # SMTP relays answer in seconds; a long outage is better retried for a while than lost.
    "email": ActionPolicy(
        start_to_close=30 * _S,
        maximum_attempts=10,
        initial_interval=5 * _S,
        backoff_coefficient=2.0,
        maximum_interval=10 * _M,
    ),
    # The request timeout is the node's own; this bounds one attempt including rendering.
    "webhook": ActionPolicy(
        start_to_close=60 * _S,
        maximum_attempts=8,
        initial_interval=2 * _S,
        backoff_coefficient=2.0,
        maximum_interval=5 * _M,
    ),
    "update_attributes": ActionPolicy(
        start_to_close=15 * _S,
        maximum_attempts=20,
        initial_interval=_S,
        backoff_coefficient=2.0,
        maximum_interval=30 * _S,
    ),
    "lifecycle_transition": ActionPolicy(
        start_to_close=15 * _S,
        maximum_attempts=20,
        initial_interval=_S,
        backoff_coefficient=2.0,
        maximum_interval=30 * _S,
    ),
    "emit_event": ActionPolicy(
        start_to_close=30 * _S,
        maximum_attempts=20,
        initial_interval=_S,
        backoff_coefficient=2.0,
        maximum_interval=_M,
    ),
    "sub_journey": ActionPolicy(
        start_to_close=15 * _S,
        maximum_attempts=0,
        initial_interval=_S,
        backoff_coefficient=2.0,
        maximum_interval=30 * _S,
    ),
}


def policy_for(node_type: str) -> ActionPolicy:
    try:
        return DEFAULTS[node_type]
    except KeyError:
        raise KeyError(f"no action policy for node type {node_type!r}") from None


def retry_policy(node_type: str, override: NodeRetryPolicy | None = None) -> RetryPolicy:
    """The node type's default policy with any fields the node's `retry` sets."""
    base = policy_for(node_type)

    def pick(name: str, default: Any) -> Any:
        value = getattr(override, name, None) if override is not None else None
        return default if value is None else value

    return RetryPolicy(
        maximum_attempts=pick("maximum_attempts", base.maximum_attempts),
        initial_interval=pick("initial_interval", base.initial_interval),
        backoff_coefficient=pick("backoff_coefficient", base.backoff_coefficient),
        maximum_interval=pick("maximum_interval", base.maximum_interval),
    )


def start_to_close(node_type: str, override: timedelta | None = None) -> timedelta:
    return override or policy_for(node_type).start_to_close

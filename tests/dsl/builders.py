"""Small builders for journey documents in tests: a valid base the rule tests break one way."""

from __future__ import annotations

import copy
from typing import Any


def end(node_id: str = "done", outcome: str = "completed") -> dict[str, Any]:
    return {"id": node_id, "type": "end", "outcome": outcome}


def email(node_id: str, next_: str | None = None, **extra: Any) -> dict[str, Any]:
    node: dict[str, Any] = {
        "id": node_id,
        "type": "email",
        "to": "{{ user.email }}",
        "subject": "Hi",
        "text": "Hello",
    }
    if next_ is not None:
        node["next"] = next_
    node.update(extra)
    return node


def delay(node_id: str, next_: str, **extra: Any) -> dict[str, Any]:
    return {"id": node_id, "type": "delay", "duration": "PT1H", "next": next_, **extra}


def journey(*nodes: dict[str, Any], start: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "name": "test",
        "description": "test journey",
        "start": start if start is not None else nodes[0]["id"],
        "nodes": [copy.deepcopy(node) for node in nodes],
        **extra,
    }


def valid() -> dict[str, Any]:
    """start -> wait -> mail -> done: valid, and uses delay, email and end."""
    return journey(delay("wait", "mail"), email("mail", "done"), end())

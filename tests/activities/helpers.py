"""Builders for the inputs every action activity takes, so tests state only what they vary."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest
from temporalio.exceptions import ApplicationError

from journey.contracts.actions import ActionMeta, TemplateContext


def make_meta(user_id: str = "u1", node_id: str = "n1", **overrides: Any) -> ActionMeta:
    run_id = f"run-{uuid4().hex[:8]}"
    values: dict[str, Any] = {
        "effect_key": f"{run_id}:{node_id}:0",
        "journey_id": "j-onboarding",
        "journey_version": "1.0.0",
        "workflow_id": f"journey-{uuid4().hex[:8]}",
        "run_id": run_id,
        "node_id": node_id,
        "user_id": user_id,
    }
    values.update(overrides)
    return ActionMeta(**values)


def make_context(
    *,
    user: dict[str, Any] | None = None,
    event: dict[str, Any] | None = None,
    vars: dict[str, Any] | None = None,
) -> TemplateContext:
    return TemplateContext(
        user=user
        or {
            "id": "u1",
            "email": "ada@example.com",
            "current_lifecycle_stage": "Acquisition",
            "attributes": {"name": "Ada", "plan": "pro"},
        },
        event=event,
        vars=vars or {},
        journey={"id": "j-onboarding", "name": "Onboarding", "version": "1.0.0"},
    )


def assert_non_retryable(info: pytest.ExceptionInfo[ApplicationError], error_type: str) -> None:
    assert info.value.type == error_type, str(info.value)
    assert info.value.non_retryable, str(info.value)


def assert_retryable(info: pytest.ExceptionInfo[ApplicationError], error_type: str) -> None:
    assert info.value.type == error_type, str(info.value)
    assert not info.value.non_retryable, str(info.value)

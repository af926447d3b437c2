"""Request and response models of `/api/workflows`.

The journey itself travels as `definition`, a plain JSON object: the gateway validates it with
`validate_journey` so a client gets every DSL problem at once (422 invalid-journey), which
pydantic request validation would cut short. The examples come from examples/ so /docs shows a
journey that really validates.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any, Literal

from fastapi.openapi.models import Example
from pydantic import BaseModel, ConfigDict, Field

from dsl.problems import Problem
from journey.services.definitions import VersionBump

WorkflowStatus = Literal["draft", "active", "inactive", "archived"]

_EXAMPLE_FILE = Path(__file__).resolve().parents[2] / "examples" / "onboarding_activation.json"


@cache
def example_definition() -> dict[str, Any]:
    """The onboarding example, or a minimal journey when the file is not shipped."""
    try:
        data: dict[str, Any] = json.loads(_EXAMPLE_FILE.read_text())
    except (OSError, ValueError):
        data = {
            "name": "Welcome",
            "start": "wait",
            "nodes": [{"id": "wait", "type": "delay", "duration": "P1D", "next": None}],
        }
    return data


class WorkflowCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    definition: dict[str, Any] = Field(description="The journey document (see /docs of the DSL).")


class WorkflowUpdate(WorkflowCreate):
    version_bump: VersionBump = Field(
        default="minor", description="Which part of the semantic version the new one bumps."
    )
    expected_version: str | None = Field(
        default=None,
        max_length=50,
        description="The version this edit is based on; 409 when it is no longer current. "
        "The If-Match header does the same.",
    )


class WorkflowValidate(WorkflowCreate):
    """Validated only; nothing is stored."""


class StatusChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: WorkflowStatus


class WorkflowPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    description: str | None
    status: str
    version: str
    lifecycle_stages: list[str] | None
    definition: dict[str, Any]
    created_at: datetime | None
    updated_at: datetime | None


class WorkflowsPublic(BaseModel):
    items: list[WorkflowPublic]
    total: int
    limit: int
    offset: int


class WorkflowVersionPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    workflow_id: uuid.UUID
    version: str
    definition: dict[str, Any]
    created_by: str | None
    created_at: datetime | None


class ValidationReport(BaseModel):
    valid: bool
    problems: list[Problem]


def create_examples() -> dict[str, Example]:
    return {
        "onboarding": Example(
            summary="Onboarding activation",
            value={"definition": example_definition()},
        )
    }


def update_examples() -> dict[str, Example]:
    return {
        "onboarding": Example(
            summary="A new minor version, based on 1.0.0",
            value={
                "definition": example_definition(),
                "version_bump": "minor",
                "expected_version": "1.0.0",
            },
        )
    }


def validate_examples() -> dict[str, Example]:
    broken = {**example_definition(), "start": "no_such_node"}
    return {
        **create_examples(),
        "dangling start": Example(
            summary="A journey whose start names no node", value={"definition": broken}
        ),
    }


def status_examples() -> dict[str, Example]:
    return {"activate": Example(summary="Activate a draft", value={"status": "active"})}

"""Typed inputs and results of activities. Pure pydantic, so workflows can import them."""

from __future__ import annotations

from pydantic import BaseModel


class StackCheckInput(BaseModel):
    """Asks the worker to prove it can reach the database on behalf of a workflow."""

    check_id: str
    requested_by: str = "journey dev --smoke"


class StackCheckResult(BaseModel):
    check_id: str
    audit_row_id: int
    attempt: int

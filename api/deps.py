"""Annotated dependencies: the long-lived clients the lifespan owns, handed to routes."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any

from confluent_kafka import Producer
from fastapi import Depends, HTTPException, Query, Request, status
from sqlalchemy.engine import Engine
from sqlmodel import Session
from temporalio.client import Client

from journey.core.config import Settings
from journey.core.db.engine import SessionFactory
from journey.core.db.models import Workflow, WorkflowExecution
from journey.services import definitions


@dataclass
class AppState:
    settings: Settings
    engine: Engine
    session_factory: SessionFactory
    temporal: Client
    producer: Producer


def get_app_state(request: Request) -> AppState:
    state: AppState = request.app.state.journey
    return state


StateDep = Annotated[AppState, Depends(get_app_state)]


def get_settings_dep(state: StateDep) -> Settings:
    return state.settings


def get_temporal(state: StateDep) -> Client:
    return state.temporal


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
TemporalDep = Annotated[Client, Depends(get_temporal)]


def get_session(state: StateDep) -> Iterator[Session]:
    """One session per request, closed when the response is sent."""
    with state.session_factory() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]
# Pagination parameters shared by the list endpoints.
Limit = Annotated[int, Query(ge=1, le=200)]
Offset = Annotated[int, Query(ge=0, le=2**31)]


def not_found(what: str) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, f"no {what}")


def load_workflow(workflow_id: str, session: SessionDep) -> Workflow:
    try:
        key = uuid.UUID(workflow_id)
    except ValueError:
        raise not_found(f"journey with id {workflow_id!r}") from None
    row = definitions.get_workflow(session, workflow_id=key)
    if row is None:
        raise not_found(f"journey with id {workflow_id!r}")
    return row


WorkflowDep = Annotated[Workflow, Depends(load_workflow)]


def stored_definition(session: Session, row: Workflow, version: str | None) -> dict[str, Any]:
    """The journey's definition, or one stored version's (404 when there is no such version)."""
    if version is None:
        return dict(row.definition)
    found = definitions.get_version(session, workflow_id=row.id, version=version)
    if found is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"no version {version!r} of journey {row.id}"
        )
    return dict(found.definition)


def execution_row(state: StateDep, execution_id: uuid.UUID) -> WorkflowExecution:
    """Blocking (SQLModel): the async handlers call it through the threadpool."""
    with state.session_factory() as session:
        row = session.get(WorkflowExecution, execution_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "unknown execution")
    return row

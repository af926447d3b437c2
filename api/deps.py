"""Annotated dependencies: the long-lived clients the lifespan owns, handed to routes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from confluent_kafka import Producer
from fastapi import Depends, Query, Request
from sqlalchemy.engine import Engine
from sqlmodel import Session
from temporalio.client import Client

from journey.config import Settings
from journey.db.engine import SessionFactory


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

"""Annotated dependencies: the long-lived clients the lifespan owns, handed to routes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from confluent_kafka import Producer
from fastapi import Depends, Request
from sqlalchemy.engine import Engine
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

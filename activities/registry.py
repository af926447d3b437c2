"""One place that builds every journey action activity, so the worker registers them in a line.

The interpreter workflow calls activities by name; a missing or duplicated name would only show
up when a journey reaches that node. `build_action_activities` therefore checks that the names
it registers are unique and are exactly the names the contract promises.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from confluent_kafka import Producer
from temporalio.activity import _Definition

from activities.email import EmailActivities
from activities.events import EventActivities
from activities.profiles import ProfileActivities
from activities.rendering import RenderLimits
from activities.webhook import WebhookActivities
from journey.contracts.actions import ACTION_ACTIVITY_NAMES
from journey.core.config import Settings
from journey.core.db.engine import SessionFactory
from journey.core.ledger import Ledger

__all__ = ["activity_name", "build_action_activities"]


def activity_name(fn: Callable[..., Any]) -> str:
    return _Definition.must_from_callable(fn).name or ""


def build_action_activities(
    *,
    settings: Settings,
    session_factory: SessionFactory,
    http: httpx.AsyncClient,
    producer: Producer,
) -> list[Callable[..., Any]]:
    """Every action activity, bound to its dependencies. The caller owns `http` and `producer`."""
    # Stage changes are announced on the events topic, so triggers can react to them.
    profiles = ProfileActivities(
        session_factory,
        RenderLimits.from_settings(settings),
        producer=producer,
        events_topic=settings.kafka_events_topic,
    )
    found: list[Callable[..., Any]] = [
        profiles.load_user,
        profiles.update_attributes,
        profiles.lifecycle_transition,
        EmailActivities(settings, Ledger(session_factory)).send_email,
        WebhookActivities(http, settings, Ledger(session_factory)).call_webhook,
        EventActivities(settings, producer, Ledger(session_factory)).emit_event,
    ]
    names = [activity_name(fn) for fn in found]
    if len(set(names)) != len(names):
        raise RuntimeError(f"duplicate action activity names: {sorted(names)}")
    if set(names) != set(ACTION_ACTIVITY_NAMES):
        raise RuntimeError(
            f"action activities {sorted(names)} do not match the contract "
            f"{sorted(ACTION_ACTIVITY_NAMES)}"
        )
    return found

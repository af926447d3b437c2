"""Durations in journeys: ISO 8601 strings ("P1D", "PT2H", "PT10S") or plain seconds.

Pydantic already parses both forms into `timedelta`; this module pins the serialised form to
ISO 8601 so a document round-trips to the shape a person wrote, and holds the sanity bounds the
validation pass applies. Kept free of I/O and of jinja2: the deterministic workflow imports it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from pydantic import PlainSerializer, WithJsonSchema

MAX_DURATION = timedelta(days=366)
"""Anything longer is almost certainly a typo (PT1D vs P1D, seconds vs days)."""


def format_duration(value: timedelta) -> str:
    """Serialise a timedelta as an ISO 8601 duration using days, hours, minutes and seconds."""
    total = (value.days * 86_400 + value.seconds) * 1_000_000 + value.microseconds
    sign = "-" if total < 0 else ""
    micro = abs(total)
    days, rest = divmod(micro, 86_400_000_000)
    hours, rest = divmod(rest, 3_600_000_000)
    minutes, rest = divmod(rest, 60_000_000)
    seconds, micros = divmod(rest, 1_000_000)
    out = f"{sign}P"
    if days:
        out += f"{days}D"
    clock = ""
    if hours:
        clock += f"{hours}H"
    if minutes:
        clock += f"{minutes}M"
    if seconds or micros:
        clock += f"{seconds}.{micros:06d}".rstrip("0").rstrip(".") + "S"
    if clock:
        out += "T" + clock
    if out.endswith("P"):
        out += "T0S"
    return out


def duration_problem(value: timedelta) -> str | None:
    """Why a duration is out of range for a journey, or None when it is acceptable."""
    if value <= timedelta(0):
        return f"duration must be positive, got {format_duration(value)}"
    if value > MAX_DURATION:
        return f"duration {format_duration(value)} is longer than 366 days"
    return None


Duration = Annotated[
    timedelta,
    PlainSerializer(format_duration, return_type=str, when_used="json"),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "description": "ISO 8601 duration, e.g. P1D, PT2H, PT10S"},
                {"type": "number", "description": "seconds"},
            ]
        }
    ),
]
"""A timedelta field that accepts ISO 8601 or seconds and serialises to ISO 8601 in JSON."""

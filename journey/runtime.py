"""Process plumbing shared by the long-running services (api, worker, ingest).

Each service announces readiness with one stdout line starting with READY_PREFIX; `journey dev`
waits for that line, so "ready" means connected and serving, not merely "process started".
"""

from __future__ import annotations

import asyncio
import signal

READY_PREFIX = "journey-ready:"


def announce_ready(component: str, detail: str = "") -> None:
    print(f"{READY_PREFIX} {component} {detail}".rstrip(), flush=True)


def stop_event_on_signals() -> asyncio.Event:
    """An event set by the first SIGINT or SIGTERM, so services can shut down gracefully."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


def configure_logging(level: str, log_format: str = "text") -> None:
    """Text or JSON lines on stderr, with trace, run and event ids (journey/telemetry/logs.py)."""
    from journey.telemetry.logs import configure_logging as configure

    configure(level, log_format)

"""Process plumbing shared by the long-running services (api, worker, ingest).

Each service announces readiness with one stdout line starting with READY_PREFIX; `journey dev`
waits for that line, so "ready" means connected and serving, not merely "process started".
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from pathlib import Path

READY_PREFIX = "journey-ready:"
# Files a Journey process creates (SQLite databases, logs, captured mail, the dev stack's JWT
# secret) hold user data and credentials: owner-only. Children inherit the umask, so the
# embedded Temporal and Kafka servers' files are owner-only too.
PRIVATE_UMASK = 0o077
PRIVATE_DIR_MODE = 0o700

log = logging.getLogger(__name__)


def announce_ready(component: str, detail: str = "") -> None:
    # The READY line on stdout is the protocol `journey dev` reads to know a component is up.
    print(f"{READY_PREFIX} {component} {detail}".rstrip(), flush=True)  # noqa: T201


def stop_event_on_signals() -> asyncio.Event:
    """An event set by the first SIGINT or SIGTERM, so services can shut down gracefully."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


def configure_logging(level: str, log_format: str = "text") -> None:
    """Text or JSON lines on stderr, with trace, run and event ids
    (journey/core/telemetry/logs.py)."""
    from journey.core.telemetry.logs import configure_logging as configure

    configure(level, log_format)


def keep_files_private() -> None:
    """Every file and folder this process and its children create is owner-only from now on."""
    os.umask(PRIVATE_UMASK)


def private_data_dir(data_dir: Path) -> None:
    """Create `data_dir` owner-only, and make an existing one owner-only.

    Tightening the folder also covers files an older version left readable inside it: nobody
    else can reach them. A folder owned by someone else is left as it is, with a warning.
    """
    keep_files_private()
    data_dir.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    if data_dir.stat().st_mode & 0o777 != PRIVATE_DIR_MODE:
        try:
            data_dir.chmod(PRIVATE_DIR_MODE)
        except PermissionError:
            log.warning("cannot make %s owner-only: it belongs to another user", data_dir)

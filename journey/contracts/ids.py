"""Readable workflow ids, so operators can find a run in the Temporal UI by journey and user."""

from __future__ import annotations

import hashlib
import re

_UNSAFE = re.compile(r"[^A-Za-z0-9_.@:-]+")
MAX_ID_LENGTH = 255  # workflow_executions.temporal_workflow_id
DISAMBIGUATING_DIGEST_CHARS = 16


def journey_workflow_id(journey_id: str, user_id: str, key: str) -> str:
    """`journey-<journey id>-<user id>-<key>`; the key makes starts idempotent (event id...)."""
    return _workflow_id("journey", [journey_id, user_id, key])


def trigger_workflow_id(trigger_id: str, user_id: str, dedupe_value: str, *, once: bool) -> str:
    """The run a trigger starts: one per (trigger, user, dedupe value), or per (trigger, user)
    for `once`. Temporal rejects a second start under the same id, so a redelivered event
    can never start a second run."""
    parts = [trigger_id, user_id] if once else [trigger_id, user_id, dedupe_value]
    return _workflow_id("trigger", parts)


def _workflow_id(prefix: str, parts: list[str]) -> str:
    """`<prefix>-<part>-<part>...` with characters Temporal UI links and logs mangle replaced by
    `_`. Replacing is lossy ("a b" and "a_b" would share one run), so an id with a replaced
    character ends in a digest of the exact parts; ids of safe characters read as they always
    have, so runs started before keep their ids. Ids too long for the executions table are the
    first part and a digest."""
    safe = [_UNSAFE.sub("_", part) for part in parts]
    readable = f"{prefix}-" + "-".join(safe)
    if safe != parts:
        readable += "-" + _digest(parts)[:DISAMBIGUATING_DIGEST_CHARS]
    if len(readable) <= MAX_ID_LENGTH:
        return readable
    return f"{prefix}-{safe[0]}-{_digest(parts)[:40]}"


def _digest(parts: list[str]) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()

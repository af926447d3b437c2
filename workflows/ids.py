"""Readable workflow ids, so operators can find a run in the Temporal UI by journey and user."""

from __future__ import annotations

import hashlib
import re

_UNSAFE = re.compile(r"[^A-Za-z0-9_.@:-]+")
MAX_ID_LENGTH = 255  # workflow_executions.temporal_workflow_id


def journey_workflow_id(journey_id: str, user_id: str, key: str) -> str:
    """`journey-<journey id>-<user id>-<key>`; the key makes starts idempotent (event id...)."""
    parts = (_UNSAFE.sub("_", part) for part in (journey_id, user_id, key))
    return "journey-" + "-".join(parts)


def trigger_workflow_id(trigger_id: str, user_id: str, dedupe_value: str, *, once: bool) -> str:
    """The run a trigger starts: one per (trigger, user, dedupe value), or per (trigger, user)
    for `once`. Temporal rejects a second start under the same id, so a redelivered event
    can never start a second run. Ids too long for the executions table are hashed."""
    parts = [trigger_id, user_id] if once else [trigger_id, user_id, dedupe_value]
    readable = "trigger-" + "-".join(_UNSAFE.sub("_", part) for part in parts)
    if len(readable) <= MAX_ID_LENGTH:
        return readable
    digest = hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:40]
    return f"trigger-{_UNSAFE.sub('_', trigger_id)}-{digest}"

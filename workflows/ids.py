"""Readable workflow ids, so operators can find a run in the Temporal UI by journey and user."""

from __future__ import annotations

import re

_UNSAFE = re.compile(r"[^A-Za-z0-9_.@:-]+")


def journey_workflow_id(journey_id: str, user_id: str, key: str) -> str:
    """`journey-<journey id>-<user id>-<key>`; the key makes starts idempotent (event id...)."""
    parts = (_UNSAFE.sub("_", part) for part in (journey_id, user_id, key))
    return "journey-" + "-".join(parts)

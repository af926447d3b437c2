"""JSON as RFC 8259 defines it: Python's `json.loads` also takes `NaN`, `Infinity` and
`-Infinity`, which no other JSON parser (nor PostgreSQL's JSONB) accepts; a value stored or
forwarded from such a document breaks whoever reads it next. The gateway (api/guards.py) and
the Kafka consumer (journey/ingest/envelopes.py) both parse with `strict_loads`.
"""

from __future__ import annotations

import json
from typing import Any, NoReturn

# Substrings that must occur in a document for it to hold one of the constants; a document
# without them needs no strict parse (a cheap pre-check for the gateway's bodies).
NON_STANDARD_MARKERS = (b"NaN", b"Infinity")


class NonStandardJSON(ValueError):
    """A document with NaN or (-)Infinity; the message names the constant."""


def _refuse(constant: str) -> NoReturn:
    raise NonStandardJSON(
        f"{constant} is not valid JSON (RFC 8259 has no NaN or Infinity); send null or a string"
    )


def strict_loads(document: str | bytes) -> Any:
    """`json.loads`, refusing NaN and (-)Infinity with NonStandardJSON (a ValueError)."""
    return json.loads(document, parse_constant=_refuse)


def may_be_non_standard(document: bytes) -> bool:
    return any(marker in document for marker in NON_STANDARD_MARKERS)

"""Webhook secrets: resolving them by name, keeping them out of results, and signing requests.

Journeys name secrets; values come from the worker's settings (`JOURNEY_SECRETS`) here, inside
the activity, so they never enter workflow history. Errors name the secret, never its value,
and `redact` removes a value a receiver echoes back (in a response body or an error snippet)
before it could reach the activity's result or failure message, which history records.

Signatures follow https://www.standardwebhooks.com: `webhook-id` (the effect key, stable across
retries so receivers can deduplicate), `webhook-timestamp` (unix seconds of the attempt, so
receivers can refuse replays) and `webhook-signature`: `v1,` + base64 HMAC-SHA256 of
`{id}.{timestamp}.{body}`. A secret in the standard form `whsec_<base64>` signs with the decoded
bytes, exactly as Standard Webhooks libraries verify it. Any other value is a *raw* secret:
its UTF-8 bytes are the key (a receiver using a Standard Webhooks library passes those bytes,
e.g. `Webhook(secret.encode())`, because a str without the prefix would be base64-decoded).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Iterable
from typing import Any

from temporalio.exceptions import ApplicationError

from journey.config import Settings

__all__ = [
    "INVALID_SECRET",
    "REDACTED",
    "SECRET_PREFIX",
    "UNKNOWN_SECRET",
    "header_secret",
    "redact",
    "resolve_secret",
    "sign",
    "signing_key",
]

# ApplicationError types (non-retryable: configuration does not change between attempts).
UNKNOWN_SECRET = "UnknownSecret"
INVALID_SECRET = "InvalidSecret"

SECRET_PREFIX = "whsec_"
REDACTED = "[redacted]"


def resolve_secret(settings: Settings, name: str) -> str:
    """The configured value of secret `name`; a non-retryable UnknownSecret when missing."""
    try:
        return settings.secret(name)
    except KeyError:
        raise ApplicationError(
            f"secret {name!r} is not configured (JOURNEY_SECRETS)",
            type=UNKNOWN_SECRET,
            non_retryable=True,
        ) from None


def header_secret(settings: Settings, name: str) -> str:
    """A secret to send as a header value: visible ASCII only, checked here so that the HTTP
    library's own error (which quotes the offending value) can never be raised."""
    value = resolve_secret(settings, name)
    if not all(" " <= char <= "~" or char == "\t" for char in value):
        raise ApplicationError(
            f"secret {name!r} cannot be a header value: it has control or non-ASCII characters",
            type=INVALID_SECRET,
            non_retryable=True,
        )
    return value


def redact(value: Any, secrets: Iterable[str]) -> Any:
    """`value` (text or decoded JSON) with every occurrence of a secret replaced."""
    needles = sorted({s for s in secrets if s}, key=len, reverse=True)
    if not needles:
        return value
    return _redact(value, needles)


def _redact(value: Any, needles: list[str]) -> Any:
    if isinstance(value, str):
        for needle in needles:
            value = value.replace(needle, REDACTED)
        return value
    if isinstance(value, dict):
        return {_redact(k, needles): _redact(v, needles) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(item, needles) for item in value]
    return value


def signing_key(name: str, secret: str) -> bytes:
    """The HMAC key of a secret: decoded `whsec_` base64, else the raw value's UTF-8 bytes."""
    if secret.startswith(SECRET_PREFIX):
        encoded = secret[len(SECRET_PREFIX) :]
        try:
            key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
        except (binascii.Error, ValueError):
            key = b""
        if not key:
            # `from None`: the decoding error could quote part of the value.
            raise ApplicationError(
                f"secret {name!r} starts with {SECRET_PREFIX!r} but is not non-empty base64",
                type=INVALID_SECRET,
                non_retryable=True,
            ) from None
        return key
    if not secret:
        raise ApplicationError(f"secret {name!r} is empty", type=INVALID_SECRET, non_retryable=True)
    return secret.encode()


def sign(key: bytes, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers for one attempt of a request with `body`."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": "v1," + base64.b64encode(digest).decode("ascii"),
    }

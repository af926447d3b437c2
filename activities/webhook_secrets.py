"""Webhook secrets: resolving them by name, keeping them out of results, and signing requests.

Journeys name secrets; values come from the worker's settings (`JOURNEY_SECRETS`) here, inside
the activity, so they never enter workflow history. Errors name the secret, never its value,
and `redact` removes a value a receiver echoes back (in a response body or an error snippet)
before it could reach the activity's result or failure message, which history records;
`redacted_error` does so for every error the activity raises, in every spelling of the value
`secret_forms` knows.

A secret goes only to the hosts it is bound to (`JOURNEY_SECRET_HOSTS`,
journey/core/secret_hosts.py), whoever wrote the journey or started the run: `check_secret_host`
refuses any other host before anything is sent, and a secret bound to no host is refused everywhere.

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
import json
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import quote, quote_plus

from temporalio.exceptions import ApplicationError

from journey.core.config import Settings
from journey.core.secret_hosts import host_allowed

__all__ = [
    "INVALID_SECRET",
    "REDACTED",
    "SECRET_HOST_REFUSED",
    "SECRET_PREFIX",
    "UNKNOWN_SECRET",
    "check_secret_host",
    "configured_values",
    "header_secret",
    "redact",
    "redacted_error",
    "resolve_secret",
    "secret_forms",
    "sign",
    "signing_key",
]

# ApplicationError types (non-retryable: configuration does not change between attempts).
UNKNOWN_SECRET = "UnknownSecret"
INVALID_SECRET = "InvalidSecret"
SECRET_HOST_REFUSED = "SecretHostRefused"

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


def check_secret_host(name: str, host: str, patterns: Sequence[str]) -> None:
    """Refuse (non-retryably) to send secret `name` to `host` unless one of its bound host
    `patterns` matches. Names the secret and the host, never the value."""
    if host_allowed(host, patterns):
        return
    if not patterns:
        why = "it is bound to no host; add it to JOURNEY_SECRET_HOSTS to send it anywhere"
    else:
        why = f"it is bound to {list(patterns)} (JOURNEY_SECRET_HOSTS)"
    raise ApplicationError(
        f"secret {name!r} may not be sent to host {host!r}: {why}",
        type=SECRET_HOST_REFUSED,
        non_retryable=True,
    )


def configured_values(settings: Settings, names: Iterable[str]) -> list[str]:
    """The values of those `names` that are configured (an unknown one fails elsewhere, by
    name): what must be redacted from everything a call with them produces."""
    return [settings.secrets[name].get_secret_value() for name in names if name in settings.secrets]


def secret_forms(value: str) -> set[str]:
    """The spellings a receiver is likely to echo a secret in: as sent, percent-encoded (in a
    URL, such as a redirect's Location), JSON-escaped, and for a `whsec_` secret its base64
    part and its key when that is text."""
    forms = {value, quote(value), quote(value, safe=""), quote_plus(value), json.dumps(value)[1:-1]}
    if value.startswith(SECRET_PREFIX):
        encoded = value[len(SECRET_PREFIX) :]
        forms.add(encoded)
        try:
            key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True).decode()
        except (binascii.Error, ValueError):
            key = ""
        if key.isascii() and key.isprintable():
            forms.add(key)
    return {form for form in forms if form}


def redacted_error(error: Exception, secrets: Iterable[str]) -> ApplicationError:
    """`error` as the ApplicationError to raise instead, its message and details redacted.

    Raise it `from None`: Temporal records an error's causes (messages included) in history,
    and the worker logs them, so the unredacted original must not travel along. An error that
    is not an ApplicationError keeps what Temporal would make of it (its class name as the
    type, retryable)."""
    if not isinstance(error, ApplicationError):
        message = redact(f"{type(error).__name__}: {error}", secrets)
        return ApplicationError(message, type=type(error).__name__)
    return ApplicationError(
        redact(error.message, secrets),
        *redact(list(error.details), secrets),
        type=error.type,
        non_retryable=error.non_retryable,
        next_retry_delay=error.next_retry_delay,
        category=error.category,
    )


def redact(value: Any, secrets: Iterable[str]) -> Any:
    """`value` (text or decoded JSON) with every occurrence of a secret, in each of its
    `secret_forms`, replaced."""
    needles = sorted({form for s in secrets for form in secret_forms(s)}, key=len, reverse=True)
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

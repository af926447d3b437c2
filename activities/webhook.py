"""The call-webhook action: one rendered HTTP request whose outcome maps onto Temporal retries.

The status decides whether retrying can help. 408, 429 and 5xx (plus timeouts and broken
connections) are transient: a retryable `WebhookTransient`, honouring `Retry-After` through
`next_retry_delay` so a rate-limited receiver is not hammered. Any other 4xx means the request
itself is wrong and would be refused again: non-retryable `WebhookRejected`. Redirects are not
followed (a journey should call the URL it names, and a redirect may leak the body elsewhere),
so a 3xx is a non-retryable `WebhookRedirect`.

Every attempt carries `webhook-id: <effect key>`, the same on each retry, so receivers can
drop duplicates; with `signing_secret` it is signed the Standard Webhooks way
(activities/webhook_secrets.py). A delivered call is recorded in the effect ledger under that
key, and a retried or re-run activity that finds it returns the recorded result without calling
again. Responses are capped at `webhook_max_response_bytes` because the result goes into
workflow history; for the same reason secrets are resolved by name here and redacted from
whatever the receiver echoes: from the result, and from every error the activity raises, all of
which pass through one redaction in `call_webhook`. A secret is sent (or signs) only to a host
`JOURNEY_SECRET_HOSTS` binds it to, checked on the rendered URL before anything is sent: any
other host is a non-retryable `SecretHostRefused`, whoever wrote the journey or started the run.

Destinations pass the SSRF guard (activities/ssrf.py) first: a refused one is a non-retryable
`WebhookBlocked` naming the rule, and the request goes to the checked address only.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.rendering import RenderLimits, render_value_async
from activities.ssrf import Allowlist, Destination, DestinationBlocked, DestinationUnresolved
from activities.ssrf import resolve as resolve_destinations
from activities.webhook_secrets import (
    check_secret_host,
    configured_values,
    header_secret,
    redact,
    redacted_error,
    resolve_secret,
    sign,
    signing_key,
)
from journey.contracts.actions import (
    CALL_WEBHOOK,
    WEBHOOK_REDIRECT,
    WEBHOOK_REJECTED,
    WEBHOOK_RESPONSE_TOO_LARGE,
    WEBHOOK_TRANSIENT,
    CallWebhookInput,
    CallWebhookResult,
)
from journey.core.config import Settings
from journey.core.ledger import Ledger
from journey.core.secret_hosts import host_pattern, url_host

__all__ = ["WEBHOOK_BLOCKED", "WebhookActivities", "retry_after_delay"]

# A destination refused by the SSRF guard or a scheme other than http(s); non-retryable.
WEBHOOK_BLOCKED = "WebhookBlocked"
TRANSIENT_4XX = frozenset({408, 429})
# Never wait longer than this between attempts, whatever the receiver asks for.
MAX_RETRY_AFTER = timedelta(hours=1)


def retry_after_delay(value: str | None, now: datetime | None = None) -> timedelta | None:
    """A Retry-After header (delay-seconds or HTTP-date) as a delay, or None if absent/invalid."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(timedelta(seconds=int(value)), MAX_RETRY_AFTER)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    delay = when - (now or datetime.now(UTC))
    return min(max(delay, timedelta(0)), MAX_RETRY_AFTER)


@dataclass
class _Prepared:
    """A rendered request, ready to send."""

    method: str
    url: str
    headers: dict[str, str]
    content: bytes | None


class WebhookActivities:
    def __init__(self, http: httpx.AsyncClient, settings: Settings, ledger: Ledger) -> None:
        self._http = http
        self._settings = settings
        self._ledger = ledger
        self._allowlist = Allowlist(settings.webhook_allowlist)
        self._limits = RenderLimits.from_settings(settings)
        self._secret_hosts = {
            name: [host_pattern(pattern) for pattern in patterns]
            for name, patterns in settings.secret_hosts.items()
        }

    @activity.defn(name=CALL_WEBHOOK)
    async def call_webhook(self, request: CallWebhookInput) -> CallWebhookResult:
        """The call, with every error it raises redacted here, in one place: whatever a branch
        quotes (a Location, a body, an httpx message), no secret value of this request leaves
        the activity in a failure, which history records and the worker logs."""
        secrets = configured_values(self._settings, _secret_names(request))
        try:
            return await self._call(request, secrets)
        except Exception as exc:
            raise redacted_error(exc, secrets) from None

    async def _call(self, request: CallWebhookInput, secrets: list[str]) -> CallWebhookResult:
        key = request.meta.effect_key
        recorded = await asyncio.to_thread(self._ledger.lookup, key)
        if recorded is not None and recorded.result is not None:
            return CallWebhookResult.model_validate(recorded.result)

        prepared = await self._prepare(request)
        self._check_secret_hosts(request, prepared.url)
        timeout = request.request_timeout_seconds
        destinations = await self._check(prepared, timeout)
        method, url = prepared.method, prepared.url
        try:
            response, raw = await self._send(prepared, destinations, timeout)
        except httpx.TimeoutException as exc:
            raise ApplicationError(
                f"{method} {url} timed out after {timeout}s", type=WEBHOOK_TRANSIENT
            ) from exc
        except httpx.TransportError as exc:
            message = f"{method} {url}: {type(exc).__name__}: {exc}"
            raise ApplicationError(message, type=WEBHOOK_TRANSIENT) from None

        status = response.status_code
        accepted = request.accept_status
        if not ((status in accepted) if accepted is not None else 200 <= status < 300):
            raise _failure(method, url, response, raw, secrets)
        body = redact(_decode(response, raw), secrets)
        result = CallWebhookResult(status=status, body=body)
        stored = await asyncio.to_thread(
            self._ledger.record,
            key,
            kind="webhook",
            outcome="delivered",
            result=result.model_dump(mode="json"),
            **request.meta.origin(),
        )
        # A concurrent attempt that recorded first wins, so every caller sees one result.
        return CallWebhookResult.model_validate(stored.result) if stored.result else result

    async def _prepare(self, request: CallWebhookInput) -> _Prepared:
        """Render templates and resolve secrets; nothing is sent yet, so errors send nothing.

        Every template of the request (URL, header names and values, body) renders in one hop
        to the render threads, off the event loop; a request without templates makes none."""
        templates = [
            request.url,
            list(request.headers.items()),
            list(request.secret_headers),
            request.body,
        ]
        url, plain_headers, secret_header_names, rendered = await render_value_async(
            templates, request.context, limits=self._limits
        )
        headers: dict[str, str] = dict(plain_headers)
        for name, secret_name in zip(
            secret_header_names, request.secret_headers.values(), strict=True
        ):
            # The value is never rendered: a secret is not a template.
            headers[name] = header_secret(self._settings, secret_name)
        content: bytes | None = None
        if request.body is not None:
            content = json.dumps(rendered, default=str).encode()
            if not any(name.lower() == "content-type" for name in headers):
                headers["Content-Type"] = "application/json"
        headers = {n: v for n, v in headers.items() if n.lower() not in _RESERVED_HEADERS}
        headers["webhook-id"] = request.meta.effect_key
        if request.signing_secret is not None:
            name = request.signing_secret
            key = signing_key(name, resolve_secret(self._settings, name))
            headers |= sign(key, request.meta.effect_key, int(time.time()), content or b"")
        return _Prepared(request.method.upper(), url, headers, content)

    def _check_secret_hosts(self, request: CallWebhookInput, url: str) -> None:
        """Each secret of the request goes only to the hosts it is bound to, checked against
        the rendered URL before anything is sent. A URL that does not parse sends nothing (the
        SSRF check reports it), so it is left to that check."""
        host = url_host(url)
        if host is None:
            return
        for name in _secret_names(request):
            check_secret_host(name, host, self._secret_hosts.get(name, []))

    async def _check(self, prepared: _Prepared, timeout: float) -> list[Destination]:
        """The SSRF guard: the addresses this request may go to, or why it may not be sent."""
        method, url = prepared.method, prepared.url
        try:
            parsed = httpx.URL(url)
            async with asyncio.timeout(timeout):
                return await resolve_destinations(parsed, self._allowlist)
        except httpx.InvalidURL as exc:
            raise ApplicationError(
                f"{method} {url}: {exc}", type=WEBHOOK_REJECTED, non_retryable=True
            ) from exc
        except DestinationBlocked as exc:
            raise ApplicationError(
                f"{method} {url} refused: {exc}", type=WEBHOOK_BLOCKED, non_retryable=True
            ) from exc
        except DestinationUnresolved as exc:
            raise ApplicationError(f"{method} {url}: {exc}", type=WEBHOOK_TRANSIENT) from exc
        except TimeoutError as exc:
            raise ApplicationError(
                f"{method} {url}: resolving the host timed out after {timeout}s",
                type=WEBHOOK_TRANSIENT,
            ) from exc

    async def _send(
        self, prepared: _Prepared, destinations: list[Destination], timeout: float
    ) -> tuple[httpx.Response, bytes]:
        """Send to the first checked address that accepts a connection.

        Only a refused connection moves on to the next address (nothing was sent yet); the
        last one's error is raised. https requests carry the original name as SNI and close
        their connection: the client pools connections by address, and a TLS session set up
        for one name must not carry another name's request.
        """
        limit = self._settings.webhook_max_response_bytes
        for position, destination in enumerate(destinations):
            headers = {**prepared.headers, "Host": destination.host_header}
            extensions: dict[str, object] = {}
            if destination.url.scheme == "https":
                headers["Connection"] = "close"
                extensions["sni_hostname"] = destination.host
            try:
                async with self._http.stream(
                    prepared.method,
                    destination.url,
                    headers=headers,
                    content=prepared.content,
                    timeout=timeout,
                    follow_redirects=False,
                    extensions=extensions,
                ) as response:
                    raw = await _read_capped(response, prepared.method, prepared.url, limit)
                return response, raw
            except httpx.ConnectError:
                if position == len(destinations) - 1:
                    raise
        raise AssertionError("resolve() returns at least one destination")


# Set by the activity itself; a journey's headers may not override them.
_RESERVED_HEADERS = frozenset(
    {"host", "connection", "webhook-id", "webhook-timestamp", "webhook-signature"}
)


async def _read_capped(response: httpx.Response, method: str, url: str, limit: int) -> bytes:
    """Read the body, refusing (non-retryably) one that exceeds `limit` bytes."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > limit:
            raise ApplicationError(
                f"{method} {url}: response larger than {limit} bytes",
                type=WEBHOOK_RESPONSE_TOO_LARGE,
                non_retryable=True,
            )
        chunks.append(chunk)
    return b"".join(chunks)


def _decode(response: httpx.Response, raw: bytes) -> Any:
    """JSON when the receiver says so (and it parses), otherwise text; empty body → None."""
    if not raw:
        return None
    content_type = response.headers.get("content-type", "").lower()
    text = raw.decode(response.encoding or "utf-8", errors="replace")
    if "json" in content_type:
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


def _secret_names(request: CallWebhookInput) -> list[str]:
    """The secrets a request sends: header values and the signing key."""
    names = list(request.secret_headers.values())
    return [*names, request.signing_secret] if request.signing_secret is not None else names


def _failure(
    method: str, url: str, response: httpx.Response, raw: bytes, secrets: Iterable[str]
) -> ApplicationError:
    status = response.status_code
    # Redact before cutting, so a secret straddling the cut cannot leave a visible part (the
    # activity redacts the whole message again, which cannot undo a cut).
    snippet = redact(raw.decode("utf-8", errors="replace"), secrets)[:300]
    message = f"{method} {url} answered {status}: {snippet}"
    if 300 <= status < 400:
        location = redact(response.headers.get("location", ""), secrets)[:300]
        return ApplicationError(
            f"{method} {url} redirected ({status}) to {location!r}; redirects are not followed",
            type=WEBHOOK_REDIRECT,
            non_retryable=True,
        )
    if status in TRANSIENT_4XX or status >= 500:
        return ApplicationError(
            message,
            type=WEBHOOK_TRANSIENT,
            next_retry_delay=retry_after_delay(response.headers.get("retry-after")),
        )
    return ApplicationError(message, type=WEBHOOK_REJECTED, non_retryable=True)

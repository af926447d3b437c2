"""The call-webhook action: one rendered HTTP request whose outcome maps onto Temporal retries.

The status decides whether retrying can help. 408, 429 and 5xx (plus timeouts and broken
connections) are transient: a retryable `WebhookTransient`, honouring `Retry-After` through
`next_retry_delay` so a rate-limited receiver is not hammered. Any other 4xx means the request
itself is wrong and would be refused again: non-retryable `WebhookRejected`. Redirects are not
followed (a journey should call the URL it names, and a redirect may leak the body elsewhere),
so a 3xx is a non-retryable `WebhookRedirect`.

Every attempt carries `webhook-id: <effect key>`, the same on each retry, so receivers can
drop duplicates. Responses are capped at 1 MiB because the result goes into workflow history.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.contracts import (
    CALL_WEBHOOK,
    WEBHOOK_REDIRECT,
    WEBHOOK_REJECTED,
    WEBHOOK_RESPONSE_TOO_LARGE,
    WEBHOOK_TRANSIENT,
    CallWebhookInput,
    CallWebhookResult,
)
from activities.rendering import render_text, render_value

__all__ = ["MAX_RESPONSE_BYTES", "WebhookActivities", "retry_after_delay"]

MAX_RESPONSE_BYTES = 1024 * 1024
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


class WebhookActivities:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http

    @activity.defn(name=CALL_WEBHOOK)
    async def call_webhook(self, request: CallWebhookInput) -> CallWebhookResult:
        context = request.context
        url = render_text(request.url, context)
        headers = {
            render_text(name, context): render_text(value, context)
            for name, value in request.headers.items()
        }
        content: bytes | None = None
        if request.body is not None:
            content = json.dumps(render_value(request.body, context), default=str).encode()
            if not any(name.lower() == "content-type" for name in headers):
                headers["Content-Type"] = "application/json"
        headers["webhook-id"] = request.meta.effect_key
        method = request.method.upper()
        try:
            async with self._http.stream(
                method,
                url,
                headers=headers,
                content=content,
                timeout=request.request_timeout_seconds,
                follow_redirects=False,
            ) as response:
                raw = await _read_capped(response, method, url)
        except httpx.UnsupportedProtocol as exc:
            raise ApplicationError(
                f"{method} {url}: {exc}", type=WEBHOOK_REJECTED, non_retryable=True
            ) from exc
        except httpx.TimeoutException as exc:
            raise ApplicationError(
                f"{method} {url} timed out after {request.request_timeout_seconds}s",
                type=WEBHOOK_TRANSIENT,
            ) from exc
        except httpx.TransportError as exc:
            raise ApplicationError(
                f"{method} {url}: {type(exc).__name__}: {exc}", type=WEBHOOK_TRANSIENT
            ) from exc

        status = response.status_code
        accepted = request.accept_status
        if (status in accepted) if accepted is not None else 200 <= status < 300:
            return CallWebhookResult(status=status, body=_decode(response, raw))
        raise _failure(method, url, response, raw)


async def _read_capped(response: httpx.Response, method: str, url: str) -> bytes:
    """Read the body, refusing (non-retryably) one that exceeds MAX_RESPONSE_BYTES."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > MAX_RESPONSE_BYTES:
            raise ApplicationError(
                f"{method} {url}: response larger than {MAX_RESPONSE_BYTES} bytes",
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


def _failure(method: str, url: str, response: httpx.Response, raw: bytes) -> ApplicationError:
    status = response.status_code
    snippet = raw[:300].decode("utf-8", errors="replace")
    message = f"{method} {url} answered {status}: {snippet}"
    if 300 <= status < 400:
        location = response.headers.get("location", "")
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

"""Guards every request passes before any route: size limits on the request head, and strict
JSON bodies. Both are pure ASGI middleware, so no route (and no router added later) can forget
them.

`RequestHeadLimits` is the outermost middleware: a URL over `api_max_url_bytes` gets 414, a
header block over `api_max_header_bytes` (all header lines together, as sent) 431, before
auth, the audit log, spans or any log line handles them. A 64 KiB URL once made one access-log
line long enough to stall `journey dev`'s supervisor (issue 22, finding 13); uvicorn's own
access log is bounded in api/server.py.

`StrictJSONBodies` refuses `NaN` and `(-)Infinity` in JSON bodies with 422: Python's parser
(and so FastAPI's) takes them, no other JSON reader does (journey/core/strict_json.py).
"""

from __future__ import annotations

from email.message import Message as MimeMessage

from fastapi import HTTPException
from starlette import status
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocketClose

from api.errors import problem_response
from dsl.events import EventEnvelope
from journey.core.strict_json import NonStandardJSON, may_be_non_standard, strict_loads
from journey.ingest.envelopes import encoded, oversized

# An HTTP/1.1 header line as sent: name, ": ", value, CRLF.
HEADER_LINE_OVERHEAD = 4


def url_bytes(scope: Scope) -> int:
    """The size of the request target: the raw (still percent-encoded) path and the query."""
    path = scope.get("raw_path") or scope.get("path", "").encode()
    query = scope.get("query_string", b"")
    return len(path) + (len(query) + 1 if query else 0)


def header_bytes(scope: Scope) -> int:
    return sum(
        len(name) + len(value) + HEADER_LINE_OVERHEAD for name, value in scope.get("headers", [])
    )


class RequestHeadLimits:
    """414 / 431 (problem+json; a WebSocket handshake is refused) for over-long request heads.

    The answer never echoes the URL: its `instance` is left out.
    """

    def __init__(self, app: ASGIApp, *, max_url_bytes: int, max_header_bytes: int) -> None:
        self.app = app
        self.max_url_bytes = max_url_bytes
        self.max_header_bytes = max_header_bytes

    def _refusal(self, scope: Scope) -> tuple[int, str] | None:
        url = url_bytes(scope)
        if url > self.max_url_bytes:
            return (
                status.HTTP_414_URI_TOO_LONG,
                f"the request URL is {url} bytes; the limit is {self.max_url_bytes}",
            )
        headers = header_bytes(scope)
        if headers > self.max_header_bytes:
            return (
                status.HTTP_431_REQUEST_HEADER_FIELDS_TOO_LARGE,
                f"the request headers are {headers} bytes together; "
                f"the limit is {self.max_header_bytes}",
            )
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        refusal = self._refusal(scope) if scope["type"] in ("http", "websocket") else None
        if refusal is None:
            await self.app(scope, receive, send)
            return
        code, detail = refusal
        if scope["type"] == "websocket":
            # Closing before the handshake is accepted: the server answers the upgrade with 403.
            await WebSocketClose(status.WS_1009_MESSAGE_TOO_BIG, detail)(scope, receive, send)
            return
        await problem_response(None, code, detail)(scope, receive, send)


class NonStandardJSONBody(StarletteHTTPException):
    """Raised while the body streams in, like BodyTooLarge: FastAPI re-raises HTTPExceptions
    from reading the body, so the error handlers answer it as a problem."""

    def __init__(self, reason: str) -> None:
        super().__init__(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"the request body is not standard JSON: {reason}",
        )


def _declares_json(scope: Scope) -> bool:
    """JSON, `+json`, or no content type at all (FastAPI may then parse the body as JSON)."""
    content_type = dict(scope.get("headers") or []).get(b"content-type")
    if content_type is None:
        return True
    mime = MimeMessage()
    mime["content-type"] = content_type.decode("latin-1")
    subtype = mime.get_content_subtype()
    return mime.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


def _check_body(body: bytes) -> None:
    if not may_be_non_standard(body):
        return  # the common case: no second parse
    try:
        strict_loads(body)
    except NonStandardJSON as exc:
        raise NonStandardJSONBody(str(exc)) from None
    except (ValueError, RecursionError):
        return  # malformed in another way: the route's own parse answers 400


class StrictJSONBodies:
    """422 for a JSON body with NaN or (-)Infinity, checked when its last chunk arrives.

    Sits inside BodyLimitMiddleware, so it never holds more than `api_max_body_bytes`.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _declares_json(scope):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []

        async def strict_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    _check_body(b"".join(chunks))
            return message

        await self.app(scope, strict_receive, send)


def check_event_size(event: EventEnvelope, max_bytes: int, where: str = "the event") -> None:
    """413 for an event the consumer would dead-letter as oversized: the same rule
    (`event_max_bytes`) on the same bytes."""
    too_large = oversized(len(encoded(event)), max_bytes)
    if too_large is not None:
        raise HTTPException(
            status.HTTP_413_CONTENT_TOO_LARGE,
            f"{where} is too large for the events topic: {too_large} "
            "(JOURNEY_EVENT_MAX_BYTES, as serialized for Kafka)",
        )

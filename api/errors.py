"""Every error of the gateway as an RFC 7807 problem (`application/problem+json`).

Clients, and the schemathesis run, rely on one error shape whatever failed: routing (404/405),
auth (401/403), rate limits (429), conflicts (409), request validation (422), a journey that
does not validate (422 with every DSL problem), malformed JSON (400), non-standard JSON (422),
oversized bodies (413), URLs (414) and headers (431) (the last three: api/guards.py).
`install_error_handlers` registers all of them; the last-resort handler logs the exception and
answers a 500 problem without internals.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy.exc import DataError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dsl.problems import Problem, escape_segment

log = logging.getLogger(__name__)

PROBLEM_BASE = "https://journey.dev/problems/"
PROBLEM_MEDIA_TYPE = "application/problem+json"
DEFAULT_MAX_BODY_BYTES = 1024 * 1024

# Stable `type` slugs by status; anything else gets the slugified reason phrase.
_SLUGS = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    413: "payload-too-large",
    414: "url-too-long",
    415: "unsupported-media-type",
    422: "validation-error",
    429: "rate-limited",
    431: "headers-too-large",
    500: "internal-error",
}


class FieldError(BaseModel):
    path: str
    message: str


class ProblemDetail(BaseModel):
    """The RFC 7807 body; `errors` / `problems` appear only on 422 responses."""

    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "type": "https://journey.dev/problems/not-found",
                "title": "Not Found",
                "status": 404,
                "detail": "no journey with id 00000000-0000-0000-0000-000000000000",
                "instance": "/api/workflows/00000000-0000-0000-0000-000000000000",
            }
        }
    )

    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[FieldError] | None = None
    problems: list[Problem] | None = None


class InvalidJourney(Exception):
    """A submitted journey with DSL problems; paths point into the journey document."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        super().__init__(f"{len(problems)} problem(s)")
        self.problems = list(problems)


class BodyTooLarge(StarletteHTTPException):
    """Raised while the body streams in; an HTTPException so FastAPI re-raises it unchanged."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body exceeds the limit of {limit} bytes")


def problem_response(
    request: Request | None,
    status: int,
    detail: str | None = None,
    *,
    slug: str | None = None,
    headers: dict[str, str] | None = None,
    path: str | None = None,
    **extra: Any,
) -> JSONResponse:
    try:
        title = HTTPStatus(status).phrase
    except ValueError:
        title = "Error"
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + (slug or _SLUGS.get(status, title.lower().replace(" ", "-"))),
        "title": title,
        "status": status,
        "detail": detail,
        "instance": path if path is not None else (request.url.path if request else None),
    }
    body.update({key: value for key, value in extra.items() if value is not None})
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_MEDIA_TYPE)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries documenting the problem schema for each status."""
    return {
        status: {
            "model": ProblemDetail,
            "description": HTTPStatus(status).phrase,
            "content": {
                PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/ProblemDetail"}}
            },
        }
        for status in statuses
    }


def _param_path(loc: Sequence[str | int]) -> str:
    """`body.a.0` → `/a/0` (JSON pointer into the body); `query.limit` style for parameters."""
    if not loc:
        return ""
    where, *rest = loc
    if where == "body":
        return "".join(f"/{escape_segment(part)}" for part in rest)
    return ".".join(str(part) for part in loc)


async def _http_exception(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else None
    headers = dict(exc.headers) if exc.headers else None
    return problem_response(request, exc.status_code, detail, headers=headers)


async def _request_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    if any(error.get("type") == "json_invalid" for error in errors):
        reason = next(str(e.get("ctx", {}).get("error", "")) for e in errors)
        return problem_response(
            request, 400, f"the request body is not valid JSON: {reason}", slug="malformed-json"
        )
    fields = [
        {"path": _param_path(error.get("loc", ())), "message": str(error.get("msg", ""))}
        for error in errors
    ]
    return problem_response(
        request, 422, f"{len(fields)} invalid field(s) in the request", errors=fields
    )


async def _invalid_journey(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, InvalidJourney)
    return problem_response(
        request,
        422,
        f"the journey has {len(exc.problems)} problem(s); paths point into the definition",
        slug="invalid-journey",
        problems=[problem.model_dump() for problem in exc.problems],
    )


async def _data_error(request: Request, exc: Exception) -> JSONResponse:
    """Values the database refuses (e.g. NUL characters on PostgreSQL) are the client's input."""
    log.info("database refused a value on %s: %s", request.url.path, exc)
    return problem_response(
        request, 422, "a submitted value cannot be stored (NUL characters are not allowed)"
    )


async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    # A locked SQLite file (its busy timeout ran out under load) or an unreachable server: the
    # request's transaction was rolled back, so the client may simply send it again.
    log.warning("database unavailable on %s %s: %s", request.method, request.url.path, exc)
    detail = (
        "the database is busy or unreachable; nothing was stored, send the request again "
        "(with the same Idempotency-Key where the route takes one)"
    )
    return problem_response(request, 503, detail, headers={"Retry-After": "5"})


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem_response(request, 500, "an unexpected error occurred; it has been logged")


class BodyLimitMiddleware:
    """413 for bodies over the limit: by Content-Length up front, else while streaming.

    The limit is `settings.api_max_body_bytes` of the running app, read per request because
    the settings are resolved in the lifespan, after the middleware stack is built.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = getattr(scope.get("app"), "state", None)
        limit = _limit_of(getattr(state, "journey", None))
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            status = 413 if declared.isdigit() else 400
            detail = BodyTooLarge(limit).detail if status == 413 else "bad Content-Length"
            response = problem_response(None, status, detail, path=scope.get("path", ""))
            await response(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, limited_receive, send)


def _limit_of(app_state: Any) -> int:
    settings = getattr(app_state, "settings", None)
    return int(getattr(settings, "api_max_body_bytes", DEFAULT_MAX_BODY_BYTES))


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(StarletteHTTPException, _http_exception)
    app.add_exception_handler(RequestValidationError, _request_validation)
    app.add_exception_handler(InvalidJourney, _invalid_journey)
    app.add_exception_handler(DataError, _data_error)
    app.add_exception_handler(OperationalError, _database_unavailable)
    app.add_exception_handler(Exception, _unexpected)
    app.add_middleware(BodyLimitMiddleware)

"""422 locations as JSON pointers into the submitted body, for routers whose bodies hold
conditions (triggers, segments): pydantic puts union tags (`leaf` in a condition) into error
locations and leaves model-level errors without a field; clients need the body's own path."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

from dsl.validation import loc_to_pointer

# The rule's model-level errors, by the field they are about.
_MODEL_ERROR_FIELDS = {
    "missing_reentry_period": "reentry_period",
    "invalid_reentry_period": "reentry_period",
    "unexpected_reentry_period": "reentry_period",
}


def _unescape(segment: str) -> str:
    return segment.replace("~1", "/").replace("~0", "~")


def located_errors(errors: Sequence[Any], body: Any) -> list[dict[str, Any]]:
    """Body error locations as paths into the submitted body (see the module docstring)."""
    located = []
    for error in errors:
        loc = tuple(error.get("loc", ()))
        kind = str(error.get("type", ""))
        if loc[:1] == ("body",) and isinstance(body, dict) and kind != "json_invalid":
            pointer = loc_to_pointer(loc[1:], body, kind)
            segments = [_unescape(part) for part in pointer.split("/")[1:]]
            if not segments and kind in _MODEL_ERROR_FIELDS:
                segments = [_MODEL_ERROR_FIELDS[kind]]
            loc = ("body", *segments)
        located.append({**error, "loc": loc})
    return located


class LocatedRoute(APIRoute):
    """Re-raises request validation errors with `located_errors`; the shared handler then
    answers the usual 422 problem."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                errors = located_errors(exc.errors(), exc.body)
                raise RequestValidationError(errors, body=exc.body) from exc

        return route

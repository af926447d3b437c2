"""The audit trail: every mutating call under /api becomes one `audit_log` row.

A pure ASGI middleware rather than a route dependency, because the row needs the response
status, which only exists once the route has answered. The row is written when the response
starts (before its headers reach the client), so a client that reads /api/audit right after a
call always finds it. A failed audit write is logged and never fails the call it describes.
"""

from __future__ import annotations

import logging
from typing import Any

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.auth import Principal
from api.deps import AppState
from journey.core.db.models.gateway import AuditEntry

log = logging.getLogger(__name__)
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
API_PREFIX = "/api/"


def _template(scope: Scope) -> str | None:
    """The matched route's path template, e.g. `/api/workflows/{id}`; None if nothing matched."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else None


def audit_entry(scope: Scope, status_code: int) -> AuditEntry | None:
    """The row describing this request, or None when it is not audited."""
    template = _template(scope)
    if template is None:
        return None  # no route matched (404): nothing was touched, and the raw path is noise
    # Set by api.auth.current_principal; absent when authentication failed.
    principal: Principal | None = scope.get("state", {}).get("principal")
    params: dict[str, Any] = {k: str(v) for k, v in scope.get("path_params", {}).items()}
    segments = [s for s in template[len(API_PREFIX) :].split("/") if s]
    client = scope.get("client")
    details: dict[str, Any] = {"path_params": params} if params else {}
    if client:
        details["client"] = client[0]
    return AuditEntry(
        actor=principal.subject[:255] if principal else "unauthenticated",
        role=principal.role.name if principal else "none",
        action=f"{scope['method']} {template}"[:255],
        resource_type=segments[0][:50] if segments else None,
        resource_id=next(iter(params.values()), None),
        status_code=status_code,
        details=details or None,
    )


def _write(state: AppState, entry: AuditEntry) -> None:
    with state.session_factory() as session:
        session.add(entry)
        session.commit()


class AuditMiddleware:
    """Records POST/PUT/PATCH/DELETE under /api with actor, role, route, resource and status."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in MUTATING
            or not scope["path"].startswith(API_PREFIX)
        ):
            await self.app(scope, receive, send)
            return
        recorded = False

        async def record(status_code: int) -> None:
            nonlocal recorded
            if recorded:
                return
            recorded = True
            try:
                entry = audit_entry(scope, status_code)
                if entry is not None:
                    state: AppState = scope["app"].state.journey
                    await anyio.to_thread.run_sync(_write, state, entry)
            except Exception:
                log.exception(
                    "could not write the audit entry of %s %s", scope["method"], scope["path"]
                )

        async def send_recorded(message: Message) -> None:
            if message["type"] == "http.response.start":
                await record(int(message["status"]))
            await send(message)

        try:
            await self.app(scope, receive, send_recorded)
        except Exception:
            await record(500)  # the server error middleware outside us answers 500
            raise

"""`GET /api/audit`: the audit trail for admins, newest first, filtered by actor and time.

Read-only and admin-only: the trail is evidence of who changed what, so no API route edits it.
Pages use the same `items/total/limit/offset` shape as the other list endpoints.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict
from sqlalchemy import func
from sqlmodel import col, select

from api.auth import Role, require_role
from api.deps import StateDep
from journey.core.db.models.gateway import AuditEntry

router = APIRouter(prefix="/api/audit", tags=["audit"])


class AuditEntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    actor: str
    role: str
    action: str
    resource_type: str | None
    resource_id: str | None
    status_code: int
    details: dict[str, Any] | None
    created_at: datetime | None


class AuditPage(BaseModel):
    items: list[AuditEntryOut]
    total: int
    limit: int
    offset: int


def _page(
    state: StateDep, actor: str | None, since: datetime | None, limit: int, offset: int
) -> AuditPage:
    query = select(AuditEntry)
    if actor is not None:
        query = query.where(AuditEntry.actor == actor)
    if since is not None:
        # A naive `since` is read as UTC, the zone every timestamp is stored in.
        aware = since if since.tzinfo else since.replace(tzinfo=UTC)
        query = query.where(col(AuditEntry.created_at) >= aware)
    with state.session_factory() as session:
        total = session.exec(select(func.count()).select_from(query.subquery())).one()
        rows = session.exec(
            query.order_by(col(AuditEntry.created_at).desc(), col(AuditEntry.id).desc())
            .offset(offset)
            .limit(limit)
        ).all()
    items = [AuditEntryOut.model_validate(row) for row in rows]
    return AuditPage(items=items, total=total, limit=limit, offset=offset)


@router.get("", response_model=AuditPage, dependencies=[require_role(Role.admin)])
def list_audit(
    state: StateDep,
    actor: Annotated[str | None, Query(max_length=255, description="Only this actor.")] = None,
    since: Annotated[
        datetime | None, Query(description="Only entries at or after this time (ISO 8601).")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> AuditPage:
    """Sync on purpose: FastAPI runs it in a worker thread, keeping DB I/O off the event loop."""
    return _page(state, actor, since, limit, offset)

"""The effect ledger: one row per side effect a journey caused, keyed by its effect key."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, Index, String
from sqlmodel import Field, SQLModel

from journey.core.db.models._base import descending, in_list, timestamp
from journey.core.db.types import JSONType

DELIVERY_KINDS = ("email", "webhook", "update_attributes", "lifecycle_transition", "emit_event")
DELIVERY_OUTCOMES = ("delivered", "suppressed", "noop")


class Delivery(SQLModel, table=True):
    """A retried or re-run activity finds its key here and returns `result` instead of
    repeating the effect. No foreign key to users: the ledger outlives a profile's erasure
    only until erasure deletes by `user_id`."""

    __tablename__ = "deliveries"
    __table_args__ = (
        CheckConstraint(in_list("kind", DELIVERY_KINDS), name="valid_delivery_kind"),
        CheckConstraint(in_list("outcome", DELIVERY_OUTCOMES), name="valid_delivery_outcome"),
        Index("idx_deliveries_user", "user_id", descending("created_at")),
        Index("idx_deliveries_workflow", "workflow_id"),
    )

    key: str = Field(primary_key=True, sa_type=String(255))
    kind: str = Field(sa_type=String(50))
    outcome: str = Field(sa_type=String(50))
    result: dict[str, Any] | None = Field(default=None, sa_type=JSONType)
    workflow_id: str | None = Field(default=None, sa_type=String(255))
    run_id: str | None = Field(default=None, sa_type=String(64))
    node_id: str | None = Field(default=None, sa_type=String(100))
    user_id: str | None = Field(default=None, sa_type=String(255))
    created_at: datetime | None = timestamp()

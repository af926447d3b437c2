"""Users, their lifecycle-stage history and the segments they belong to."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, Column, Index, String, Text, Uuid, text
from sqlmodel import Field, SQLModel

from journey.core.db.models._base import (
    descending,
    in_list,
    json_object,
    stage_list,
    timestamp,
    uuid_pk,
)
from journey.core.db.types import (
    LIFECYCLE_STAGES,
    BigIntegerPK,
    JSONType,
    LifecycleStage,
    UTCDateTime,
)

_STAGE_CHECK = in_list("current_lifecycle_stage", LIFECYCLE_STAGES)
_TRANSITION_CHECK = (
    f"(from_stage IS NULL OR {in_list('from_stage', LIFECYCLE_STAGES)})"
    f" AND {in_list('to_stage', LIFECYCLE_STAGES)}"
)


class User(SQLModel, table=True):
    """A customer profile, keyed by the customer's own user id (e.g. "u1")."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(_STAGE_CHECK, name="valid_lifecycle_stage"),
        Index("idx_users_lifecycle_stage", "current_lifecycle_stage"),
        Index("idx_users_attributes", "attributes", postgresql_using="gin"),
        Index("idx_users_created_at", "created_at"),
    )

    id: str = Field(primary_key=True, sa_type=String(255))
    email: str | None = Field(default=None, unique=True, sa_type=String(255))
    current_lifecycle_stage: str = Field(
        default=LifecycleStage.ACQUISITION.value,
        sa_type=String(50),
        sa_column_kwargs={"server_default": LifecycleStage.ACQUISITION.value},
    )
    attributes: dict[str, Any] | None = json_object()
    created_at: datetime | None = timestamp()
    updated_at: datetime | None = timestamp(on_update=True)


class UserLifecycleHistory(SQLModel, table=True):
    """One stage transition of one user; append-only, kept forever."""

    __tablename__ = "user_lifecycle_history"
    __table_args__ = (
        CheckConstraint(_TRANSITION_CHECK, name="valid_stages"),
        Index("idx_lifecycle_history_user", "user_id", descending("transitioned_at")),
        Index("idx_lifecycle_history_stage", "to_stage", descending("transitioned_at")),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigIntegerPK)
    user_id: str = Field(foreign_key="users.id", ondelete="CASCADE", sa_type=String(255))
    from_stage: str | None = Field(default=None, sa_type=String(50))
    to_stage: str = Field(sa_type=String(50))
    transitioned_at: datetime | None = timestamp()
    workflow_execution_id: uuid.UUID | None = Field(default=None, sa_type=Uuid)
    # The column is "metadata", a name SQLAlchemy reserves on mapped classes.
    metadata_: dict[str, Any] | None = Field(
        default_factory=dict,
        sa_column=Column("metadata", JSONType, nullable=True, server_default=text("'{}'")),
    )


class UserSegment(SQLModel, table=True):
    """A named audience, defined by conditions over user attributes."""

    __tablename__ = "user_segments"
    __table_args__ = (Index("idx_segments_stages", "lifecycle_stages", postgresql_using="gin"),)

    id: uuid.UUID = uuid_pk()
    name: str = Field(sa_type=String(255))
    description: str | None = Field(default=None, sa_type=Text)
    conditions: dict[str, Any] = Field(sa_type=JSONType)
    lifecycle_stages: list[str] | None = stage_list()
    created_at: datetime | None = timestamp()
    updated_at: datetime | None = timestamp(on_update=True)


class UserSegmentMembership(SQLModel, table=True):
    """A cached result of evaluating one segment for one user, valid until `valid_until`."""

    __tablename__ = "user_segment_memberships"
    __table_args__ = (
        Index("idx_memberships_segment", "segment_id", descending("evaluated_at")),
        Index(
            "idx_memberships_expiry",
            "valid_until",
            postgresql_where=text("valid_until IS NOT NULL"),
            sqlite_where=text("valid_until IS NOT NULL"),
        ),
    )

    user_id: str = Field(
        primary_key=True, foreign_key="users.id", ondelete="CASCADE", sa_type=String(255)
    )
    segment_id: uuid.UUID = Field(
        primary_key=True, foreign_key="user_segments.id", ondelete="CASCADE", sa_type=Uuid
    )
    evaluated_at: datetime | None = timestamp()
    valid_until: datetime | None = Field(default=None, sa_type=UTCDateTime)

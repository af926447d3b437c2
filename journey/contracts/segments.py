"""The segment refresh workflow's name and its activities' contract."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

# ---- segment refresh (workflows/segments.py, activities/segments.py) --------------------------

SEGMENT_REFRESH_WORKFLOW = "journey.SegmentRefresh"
LIST_SEGMENTS = "journey.list_segments"
SEGMENT_CHANGES = "journey.segment_changes"
APPLY_SEGMENT_CHANGES = "journey.apply_segment_changes"
PUBLISH_SEGMENT_EVENTS = "journey.publish_segment_events"
RENEW_SEGMENT = "journey.renew_segment_memberships"


class SegmentRef(BaseModel):
    id: str
    name: str


class SegmentRefreshInput(BaseModel):
    """Refresh the cached memberships of every segment (or of `segment_ids`).

    `run_key`, `evaluated_at`, `pending` and the counts are carried over continue-as-new;
    a new refresh leaves them unset."""

    segment_ids: list[str] | None = None
    run_key: str | None = None
    evaluated_at: datetime | None = None
    pending: list[SegmentRef] | None = None
    refreshed: int = 0
    entered: int = 0
    exited: int = 0


class SegmentRefreshResult(BaseModel):
    refreshed: int
    entered: int
    exited: int


class ListSegmentsInput(BaseModel):
    segment_ids: list[str] | None = None


class SegmentChangesInput(BaseModel):
    segment_id: str


class SegmentChanges(BaseModel):
    """Up to the batch size of each; `found` is False when the segment was deleted (or its
    stored conditions are invalid: it is skipped)."""

    found: bool = True
    entered: list[str] = Field(default_factory=list)
    exited: list[str] = Field(default_factory=list)
    complete: bool = True


class ApplySegmentChangesInput(BaseModel):
    segment_id: str
    entered: list[str]
    exited: list[str]
    evaluated_at: datetime


class PublishSegmentEventsInput(BaseModel):
    segment: SegmentRef
    # Part of every event id: the refresh run's key and the step, the same on every retry.
    event_key: str
    entered: list[str]
    exited: list[str]
    timestamp: datetime


class RenewSegmentInput(BaseModel):
    segment_id: str
    evaluated_at: datetime

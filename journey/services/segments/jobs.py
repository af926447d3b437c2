"""The `segment-refresh` Schedule: every 15 minutes, SegmentRefreshWorkflow over all segments.

Listed in worker.SCHEDULED_JOBS, which `journey worker` keeps in place. The TTL of the
cached rows (`segment_membership_ttl_seconds`) is read by the activities, so the schedule's
input stays empty and changing the TTL needs no schedule update.
"""

from __future__ import annotations

from datetime import timedelta

from journey.contracts.segments import SEGMENT_REFRESH_WORKFLOW, SegmentRefreshInput
from journey.core.config import Settings
from journey.core.temporal.schedules import ScheduledJob

REFRESH_EVERY = timedelta(minutes=15)


def refresh_input(_settings: Settings) -> SegmentRefreshInput:
    return SegmentRefreshInput()


SEGMENT_REFRESH = ScheduledJob(
    name="segment-refresh",
    workflow=SEGMENT_REFRESH_WORKFLOW,
    every=REFRESH_EVERY,
    make_input=refresh_input,
)

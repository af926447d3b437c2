"""The `segment-refresh` Schedule: every 15 minutes, SegmentRefreshWorkflow over all segments.

Imported by worker.py so the job is registered wherever schedules are ensured. The TTL of the
cached rows (`segment_membership_ttl_seconds`) is read by the activities, so the schedule's
input stays empty and changing the TTL needs no schedule update.
"""

from __future__ import annotations

from datetime import timedelta

from activities.contracts import SEGMENT_REFRESH_WORKFLOW, SegmentRefreshInput
from journey.config import Settings
from journey.schedules import ScheduledJob, register

REFRESH_EVERY = timedelta(minutes=15)


def refresh_input(settings: Settings) -> SegmentRefreshInput:
    return SegmentRefreshInput()


SEGMENT_REFRESH = register(
    ScheduledJob(
        name="segment-refresh",
        workflow=SEGMENT_REFRESH_WORKFLOW,
        every=REFRESH_EVERY,
        make_input=refresh_input,
    )
)

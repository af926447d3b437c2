"""Temporal Schedules that keep Journey's derived data fresh (segment memberships, the daily
metrics rollup, retention purges).

Each job is a workflow run on the main task queue by a Schedule; `journey worker` creates or
updates every schedule of its one list (`worker.SCHEDULED_JOBS`) when it starts
(`ensure_schedules`), so a deployment never has
to create them by hand, and operators see, pause and trigger them in the Temporal UI
(Schedules). Overlapping runs are skipped: a slow refresh is never stacked on itself.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)

from journey.core.config import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScheduledJob:
    """One schedule: `workflow` (its registered name) started every `every` with the input
    `make_input(settings)` returns."""

    name: str
    workflow: str
    every: timedelta
    make_input: Callable[[Settings], Any]
    offset: timedelta = timedelta(0)

    @property
    def schedule_id(self) -> str:
        return f"journey-{self.name}"


def _schedule(job: ScheduledJob, settings: Settings) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            job.workflow,
            job.make_input(settings),
            id=job.schedule_id,
            task_queue=settings.temporal_task_queue,
        ),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=job.every, offset=job.offset)]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )


def check_unique(jobs: Sequence[ScheduledJob]) -> None:
    names = [job.name for job in jobs]
    if twice := sorted({name for name in names if names.count(name) > 1}):
        raise ValueError(f"schedules listed twice: {', '.join(twice)}")


async def ensure_schedules(
    client: Client, settings: Settings, jobs: Sequence[ScheduledJob]
) -> list[str]:
    """Create each job's schedule, or bring an existing one up to date; -> schedule ids."""
    check_unique(jobs)
    ids = []
    for job in jobs:
        schedule = _schedule(job, settings)
        try:
            await client.create_schedule(job.schedule_id, schedule)
        except ScheduleAlreadyRunningError:

            def replace(_: ScheduleUpdateInput, new: Schedule = schedule) -> ScheduleUpdate:
                return ScheduleUpdate(schedule=new)

            await client.get_schedule_handle(job.schedule_id).update(replace)
        ids.append(job.schedule_id)
    log.info("schedules in place: %s", ", ".join(ids) or "none")
    return ids

"""The Temporal worker: Journey's workflows and activities on the configured task queue.

`build_worker` is shared by `journey worker`, `journey dev` and the tests, so all of them
register exactly the same workflows and activities.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker

from activities.stack_check import StackCheckActivities
from journey.config import Settings
from journey.db.engine import SessionFactory, create_db_engine, make_session_factory
from journey.runtime import announce_ready, stop_event_on_signals
from journey.temporal_client import connect_with_retry
from workflows.stack_check import StackCheckWorkflow

WORKFLOWS: Sequence[type] = (StackCheckWorkflow,)


def build_activities(session_factory: SessionFactory) -> list[Callable[..., Any]]:
    stack_check = StackCheckActivities(session_factory)
    return [stack_check.record_stack_check]


def build_worker(
    client: Client,
    *,
    task_queue: str,
    session_factory: SessionFactory,
    activity_executor: ThreadPoolExecutor,
) -> Worker:
    return Worker(
        client,
        task_queue=task_queue,
        workflows=list(WORKFLOWS),
        activities=build_activities(session_factory),
        # Database activities are synchronous (SQLModel sessions) and run on this pool.
        activity_executor=activity_executor,
    )


async def run_worker(settings: Settings) -> None:
    stop = stop_event_on_signals()
    engine = create_db_engine(settings.resolved_database_url, echo=settings.database_echo)
    client = await connect_with_retry(settings)
    try:
        with ThreadPoolExecutor(max_workers=32, thread_name_prefix="activity") as executor:
            worker = build_worker(
                client,
                task_queue=settings.temporal_task_queue,
                session_factory=make_session_factory(engine),
                activity_executor=executor,
            )
            async with worker:
                announce_ready("worker", f"task queue {settings.temporal_task_queue}")
                await stop.wait()
    finally:
        engine.dispose()


def main(settings: Settings) -> None:
    asyncio.run(run_worker(settings))

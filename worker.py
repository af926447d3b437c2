"""The Temporal worker: Journey's workflows and activities on the configured task queue.

`journey_worker` is shared by `journey worker`, `journey dev` and the tests, and `WORKFLOWS` by
the Replayer, so all of them run exactly the same workflows and activities.
"""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import httpx
from confluent_kafka import Producer
from temporalio.client import Client
from temporalio.worker import Worker

from activities.executions import ExecutionActivities
from activities.journeys import JourneyActivities
from activities.metrics import MetricsActivities
from activities.registry import activity_name, build_action_activities
from activities.segments import SegmentActivities
from activities.stack_check import StackCheckActivities
from journey.core.config import Settings
from journey.core.db.engine import SessionFactory, create_db_engine, make_session_factory
from journey.core.kafka.clients import make_producer
from journey.core.runtime import announce_ready, stop_event_on_signals
from journey.core.telemetry.temporal import metrics_runtime
from journey.core.telemetry.tracing import instrument_http_client
from journey.core.temporal.client import connect_with_retry
from journey.core.temporal.sandbox import workflow_runner
from journey.core.temporal.schedules import ScheduledJob, ensure_schedules
from journey.services.metrics.jobs import MAINTENANCE_JOB, ROLLUP_JOB
from journey.services.segments.jobs import SEGMENT_REFRESH
from workflows.journey import JourneyWorkflow
from workflows.maintenance import MaintenanceWorkflow, MetricsRollupWorkflow
from workflows.segments import SegmentRefreshWorkflow
from workflows.stack_check import StackCheckWorkflow
from workflows.task_queues import SUFFIX_BY_ACTIVITY

WORKFLOWS: Sequence[type] = (
    JourneyWorkflow,
    StackCheckWorkflow,
    MetricsRollupWorkflow,
    MaintenanceWorkflow,
    SegmentRefreshWorkflow,
)
# The Schedules `journey worker` keeps in place (journey/core/temporal/schedules.py).
SCHEDULED_JOBS: Sequence[ScheduledJob] = (SEGMENT_REFRESH, ROLLUP_JOB, MAINTENANCE_JOB)


def build_activities(
    *,
    settings: Settings,
    session_factory: SessionFactory,
    http: httpx.AsyncClient,
    producer: Producer,
) -> list[Callable[..., Any]]:
    return [
        *build_action_activities(
            settings=settings, session_factory=session_factory, http=http, producer=producer
        ),
        JourneyActivities(session_factory).load_journey,
        StackCheckActivities(session_factory).record_stack_check,
        ExecutionActivities(session_factory).record_execution_outcome,
        *_metrics_activities(session_factory),
        *_segment_activities(settings, session_factory, producer),
    ]


def _metrics_activities(session_factory: SessionFactory) -> list[Callable[..., Any]]:
    metrics = MetricsActivities(session_factory)
    return [metrics.rollup_metrics_day, metrics.ensure_partitions, metrics.purge_expired]


def _segment_activities(
    settings: Settings, session_factory: SessionFactory, producer: Producer
) -> list[Callable[..., Any]]:
    segments = SegmentActivities(settings, session_factory, producer)
    return [
        segments.list_segments,
        segments.segment_changes,
        segments.apply_segment_changes,
        segments.publish_segment_events,
        segments.renew_segment_memberships,
    ]


@asynccontextmanager
async def journey_worker(
    client: Client,
    settings: Settings,
    session_factory: SessionFactory,
    *,
    task_queue: str | None = None,
) -> AsyncIterator[Worker]:
    """Running workers with the clients their activities share; all closed on exit.

    The main queue runs the workflows and every activity: runs route an email or webhook
    without a configured rate there, where its task can be dispatched eagerly. Email and
    webhook activities also get a queue each (workflows/task_queues.py) with the configured
    global rate, which runs started with that rate (and runs from before) use.
    """
    queue = task_queue or settings.temporal_task_queue
    producer = make_producer(settings)
    # Redirects are never followed: a 3xx is the receiver's answer, not a hop to make.
    async with httpx.AsyncClient(follow_redirects=False) as http:
        instrument_http_client(http, settings)  # webhook spans and their traceparent header
        with ThreadPoolExecutor(max_workers=32, thread_name_prefix="activity") as executor:
            activities = build_activities(
                settings=settings, session_factory=session_factory, http=http, producer=producer
            )
            throttled: dict[str, list[Callable[..., Any]]] = {n: [] for n in SUFFIX_BY_ACTIVITY}
            for fn in activities:
                if activity_name(fn) in throttled:
                    throttled[activity_name(fn)].append(fn)
            with warnings.catch_warnings():
                # The SDK warns when activity slots outnumber the pool's threads. Most of the
                # slots serve asynchronous actions (email, webhook) that never use the pool;
                # synchronous ones queue on it, kept small as each holds a database connection.
                warnings.filterwarnings("ignore", "Worker max_concurrent_activities is")
                main = Worker(
                    client,
                    task_queue=queue,
                    workflows=list(WORKFLOWS),
                    workflow_runner=workflow_runner(settings),
                    activities=activities,
                    # Database activities are synchronous (SQLModel) and run on this pool.
                    activity_executor=executor,
                    max_concurrent_workflow_tasks=settings.worker_max_concurrent_workflow_tasks,
                    max_concurrent_activities=settings.worker_max_concurrent_activities,
                )
            workers = [main]
            for name, functions in throttled.items():
                suffix = SUFFIX_BY_ACTIVITY[name]
                workers.append(
                    Worker(
                        client,
                        task_queue=f"{queue}.{suffix}",
                        activities=functions,
                        activity_executor=executor,
                        max_task_queue_activities_per_second=settings.action_rates[suffix],
                    )
                )
            try:
                async with AsyncExitStack() as stack:
                    for running in workers:
                        await stack.enter_async_context(running)
                    yield workers[0]
            finally:
                await asyncio.to_thread(producer.flush, 10)
                producer.close()


async def run_worker(settings: Settings) -> None:
    stop = stop_event_on_signals()
    engine = create_db_engine(settings.resolved_database_url, echo=settings.database_echo)
    client = await connect_with_retry(settings, runtime=metrics_runtime(settings))
    try:
        async with journey_worker(client, settings, make_session_factory(engine)):
            if settings.schedules_enabled:
                await ensure_schedules(client, settings, SCHEDULED_JOBS)
            announce_ready("worker", f"task queue {settings.temporal_task_queue}")
            await stop.wait()
    finally:
        engine.dispose()


def main(settings: Settings) -> None:
    asyncio.run(run_worker(settings))

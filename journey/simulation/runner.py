"""Running one journey for one user on a private time-skipping Temporal server.

Each simulation gets its own server process (it starts in well under a second), task queues
and worker: a time-skipping server's clock is shared by every run on it, and one run left open
or one activity left scheduled stops it skipping for everyone (temporalio/sdk-java#1138). The
run is the product's own `JourneyWorkflow`; only the activities are stand-ins
(journey/simulation/stand_ins.py).

The driver moves the virtual clock to each event's offset (`env.sleep`: timers that fall due
on the way fire, in order), signals the event the way the consumer does, and finally moves the
clock to the horizon. A run still open then is asked where it is and terminated; so is a run
caught by the real-time limit. The server is shut down either way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import ActivityError, ChildWorkflowError
from temporalio.runtime import LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from dsl.document import JourneyDocument
from dsl.nodes import SubJourneyNode
from journey.contracts.runs import JourneyInput, JourneySnapshot, JourneyState
from journey.core.config import Settings
from journey.core.embedded.servers import temporal_test_server_path
from journey.core.temporal.client import DATA_CONVERTER
from journey.core.temporal.sandbox import workflow_runner
from journey.simulation.models import EventDelivery, Scenario, SimulationResult
from journey.simulation.stand_ins import Recorder, unknown_activity
from journey.simulation.timeline import RunRecord, build_result
from workflows.journey import JourneyWorkflow
from workflows.task_queues import SUFFIX_BY_ACTIVITY

__all__ = ["simulate"]

log = logging.getLogger(__name__)
SERVER_STARTUP = timedelta(seconds=30)
# Collecting the answer and cleaning up after the horizon or the real-time limit.
WRAP_UP_SECONDS = 15.0
# A sub-journey's child runs are found by id; bounds the walk over nested ones.
MAX_CHILD_RUNS = 50


async def simulate(
    snapshot: JourneySnapshot,
    scenario: Scenario,
    *,
    settings: Settings,
    sub_journeys: Mapping[str, JourneySnapshot] | None = None,
    timeout_seconds: float | None = None,
) -> SimulationResult:
    """Run `snapshot` for `scenario.user` through `scenario.events` up to the horizon."""
    recorder = Recorder(
        settings, scenario.user, journeys=sub_journeys, webhook_answers=scenario.webhook_responses
    )
    limit = timeout_seconds if timeout_seconds is not None else settings.simulation_timeout_seconds
    try:
        env = await WorkflowEnvironment.start_time_skipping(
            test_server_existing_path=temporal_test_server_path(settings.temporal_test_server_bin),
            data_converter=DATA_CONVERTER,
            test_server_startup_timeout=SERVER_STARTUP,
            runtime=_quiet_runtime(),
        )
        try:
            return await _simulate_on(env, snapshot, scenario, recorder, settings, limit)
        finally:
            await env.shutdown()
    finally:
        await recorder.aclose()


async def _simulate_on(
    env: WorkflowEnvironment,
    snapshot: JourneySnapshot,
    scenario: Scenario,
    recorder: Recorder,
    settings: Settings,
    limit: float,
) -> SimulationResult:
    queue = f"simulation-{uuid.uuid4()}"
    async with _workers(env.client, queue, recorder, settings):
        start = await env.get_current_time()
        entry = _entry_envelope(scenario, start)
        workflow_id = f"simulation-{snapshot.journey_id}-{scenario.user.id}"
        handle = await env.client.start_workflow(
            JourneyWorkflow.run,
            JourneyInput(journey=snapshot, user_id=scenario.user.id, entry_event=entry),
            id=workflow_id,
            task_queue=queue,
        )
        deliveries: list[EventDelivery] = []
        timed_out = False
        try:
            async with asyncio.timeout(limit):
                await _drive(env, handle, scenario, start, deliveries)
        except TimeoutError:
            timed_out = True
        now: datetime | None = None
        runs: list[RunRecord] = []
        try:
            async with asyncio.timeout(WRAP_UP_SECONDS):
                now = await env.get_current_time()
                runs = await _collect(env.client, handle, snapshot, recorder.journeys)
                await _terminate_open(env.client, runs)
        except TimeoutError:
            # The server is stopped next either way; report what the stand-ins recorded.
            log.warning("simulation of %s: no answer from the run to wrap up", workflow_id)
            timed_out = True
    return build_result(
        start=start,
        scenario=scenario,
        runs=runs,
        deliveries=deliveries,
        recorder=recorder,
        timed_out=timed_out,
        now=now,
    )


@asynccontextmanager
async def _workers(
    client: Client, queue: str, recorder: Recorder, settings: Settings
) -> AsyncIterator[None]:
    """The product's queues (main, `.email`, `.webhook`) with stand-ins on each."""

    stand_ins = recorder.activities()
    by_name = {_name(fn): fn for fn in stand_ins}
    throttled = set(SUFFIX_BY_ACTIVITY)
    main = [fn for name, fn in by_name.items() if name not in throttled]
    workers = [
        Worker(
            client,
            task_queue=queue,
            workflows=[JourneyWorkflow],
            workflow_runner=workflow_runner(settings),
            activities=[*main, unknown_activity],
        )
    ]
    for name, suffix in SUFFIX_BY_ACTIVITY.items():
        workers.append(
            Worker(
                client, task_queue=f"{queue}.{suffix}", activities=[by_name[name], unknown_activity]
            )
        )
    async with AsyncExitStack() as stack:
        for running in workers:
            await stack.enter_async_context(running)
        yield


@cache
def _quiet_runtime() -> Runtime:
    """The SDK core warns, once per worker, that the test server is older than it would like;
    for a simulation that is noise on every run. Errors still show."""
    filter_ = TelemetryFilter(core_level="ERROR", other_level="ERROR")
    return Runtime(telemetry=TelemetryConfig(logging=LoggingConfig(filter=filter_)))


def _name(fn: Callable[..., Any]) -> str:
    from activities.registry import activity_name

    return activity_name(fn)


def _entry_envelope(scenario: Scenario, start: datetime) -> dict[str, Any] | None:
    entry = scenario.entry_event
    if entry is None:
        return None
    return {
        "id": entry.id,
        "type": entry.type,
        "user_id": scenario.user.id,
        "timestamp": _iso(entry.timestamp or start),
        "properties": entry.properties,
    }


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


async def _is_open(handle: WorkflowHandle[Any, Any]) -> bool:
    described = await handle.describe()
    return described.status == WorkflowExecutionStatus.RUNNING


async def _advance_to(env: WorkflowEnvironment, moment: datetime) -> None:
    remaining = moment - await env.get_current_time()
    if remaining > timedelta(0):
        await env.sleep(remaining)


async def _drive(
    env: WorkflowEnvironment,
    handle: WorkflowHandle[Any, Any],
    scenario: Scenario,
    start: datetime,
    deliveries: list[EventDelivery],
) -> None:
    # Stable: events at the same offset arrive in the order they were given.
    ordered = sorted(enumerate(scenario.events), key=lambda pair: pair[1].at)
    for position, event in ordered:
        moment = start + event.at
        await _advance_to(env, moment)
        envelope = {
            "id": event.id or f"sim-event-{position + 1}",
            "type": event.type,
            "user_id": scenario.user.id,
            "timestamp": _iso(moment),
            "properties": event.properties,
        }
        delivered = await _is_open(handle)
        if delivered:
            await handle.signal("event", envelope)
        deliveries.append(
            EventDelivery(at=moment, offset=event.at, envelope=envelope, delivered=delivered)
        )
    await _advance_to(env, start + scenario.horizon)


async def _state(client: Client, workflow_id: str) -> JourneyState | None:
    try:
        state: JourneyState = await client.get_workflow_handle(workflow_id).query(
            "state", result_type=JourneyState
        )
    except RPCError as exc:
        log.info("simulation: no state for %s: %s", workflow_id, exc)
        return None
    return state


async def _collect(
    client: Client,
    handle: WorkflowHandle[Any, Any],
    snapshot: JourneySnapshot,
    journeys: Mapping[str, JourneySnapshot],
) -> list[RunRecord]:
    """The main run and every sub-journey run it started, each with its state and status."""
    runs: list[RunRecord] = []
    pending: list[tuple[str, str, JourneyDocument | None]] = [
        ("main", handle.id, snapshot.document)
    ]
    while pending and len(runs) < MAX_CHILD_RUNS:
        label, workflow_id, document = pending.pop(0)
        child = client.get_workflow_handle(workflow_id)
        try:
            described = await child.describe()
        except RPCError:
            continue  # a sub-journey that was never started (e.g. its journey is unknown)
        state = await _state(client, workflow_id)
        error = (
            await _failure(child) if described.status == WorkflowExecutionStatus.FAILED else None
        )
        runs.append(
            RunRecord(
                label=label,
                workflow_id=workflow_id,
                status=described.status,
                closed_at=described.close_time,
                state=state,
                error=error,
                document=document,
            )
        )
        if state is None:
            continue
        nodes = document.node_map() if document is not None else {}
        visits: dict[str, int] = {}
        for step in state.step_log:
            visits[step.node_id] = visits.get(step.node_id, 0) + 1
            node = nodes.get(step.node_id)
            if isinstance(node, SubJourneyNode):
                child_id = f"{workflow_id}-{step.node_id}-{visits[step.node_id]}"
                found = journeys.get(node.journey_id)
                child_document = found.document if found is not None else None
                pending.append((f"{label}/{step.node_id}", child_id, child_document))
    return runs


async def _failure(handle: WorkflowHandle[Any, Any]) -> str:
    try:
        await handle.result()
    except WorkflowFailureError as err:
        return _reason(err)
    return "failed"


def _reason(err: BaseException) -> str:
    """Every message along the failure's causes, without the generic wrappers' own words
    ("Activity task failed" says nothing a person can act on)."""
    parts: list[str] = []
    current: BaseException | None = err
    while current is not None:
        if not isinstance(current, WorkflowFailureError | ActivityError | ChildWorkflowError):
            text = str(current)
            if text and not any(text in part for part in parts):
                parts.append(text)
        current = getattr(current, "cause", None) or current.__cause__
    return ": ".join(parts) or str(err)


async def _terminate_open(client: Client, runs: list[RunRecord]) -> None:
    for run in runs:
        if run.status == WorkflowExecutionStatus.RUNNING:
            with contextlib.suppress(RPCError):
                await client.get_workflow_handle(run.workflow_id).terminate(
                    reason="simulation horizon reached"
                )

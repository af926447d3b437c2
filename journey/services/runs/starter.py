"""Starting a journey run on Temporal: the one place that knows the start options.

Both the REST gateway and the Kafka consumer derive the workflow id from what makes the start
unique (an Idempotency-Key; a trigger, user and dedupe value), reserve the executions row, and
then call this. `REJECT_DUPLICATE` + `FAIL` make Temporal refuse a second run under an id that
was ever used, so a repeated start is answered with the run the first one made.
"""

from __future__ import annotations

import logging
from typing import Any

from temporalio.client import Client, WorkflowHandle
from temporalio.common import (
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from journey.contracts.runs import JourneyInput, JourneySnapshot
from journey.contracts.search_attributes import start_attributes
from workflows.journey import JourneyWorkflow

log = logging.getLogger(__name__)


async def start_run(
    client: Client,
    *,
    task_queue: str,
    snapshot: JourneySnapshot,
    user_id: str,
    workflow_id: str,
    throttled_actions: list[str],
    entry_event: dict[str, Any] | None = None,
    variables: dict[str, Any] | None = None,
    create_profile: bool = False,
) -> tuple[str, bool]:
    """Start the run (or find the one started under the same id): -> (run id, new).

    `throttled_actions` is `Settings.throttled_actions`: the action kinds the run sends to
    their rate-limited queues; the others run on `task_queue`, where they can be dispatched
    eagerly (workflows/task_queues.py).
    """
    request = JourneyInput(
        journey=snapshot,
        user_id=user_id,
        entry_event=entry_event,
        variables=variables or {},
        create_profile=create_profile,
        throttled_actions=throttled_actions,
    )
    attributes = start_attributes(snapshot.journey_id, snapshot.version, user_id)
    try:
        try:
            handle = await _start(client, request, workflow_id, task_queue, attributes)
        except RPCError as exc:
            if not _unregistered_attributes(exc):
                raise
            # A cluster without Journey's search attributes still runs journeys, unlabelled.
            log.warning("start %s without search attributes: %s", workflow_id, exc.message)
            handle = await _start(client, request, workflow_id, task_queue, None)
    except WorkflowAlreadyStartedError as exc:
        return exc.run_id or "", False
    return handle.result_run_id or "", True


def _unregistered_attributes(exc: RPCError) -> bool:
    return (
        exc.status == RPCStatusCode.INVALID_ARGUMENT and "search attribute" in exc.message.lower()
    )


async def _start(
    client: Client,
    request: JourneyInput,
    workflow_id: str,
    task_queue: str,
    attributes: TypedSearchAttributes | None,
) -> WorkflowHandle[Any, Any]:
    return await client.start_workflow(
        JourneyWorkflow.run,
        request,
        id=workflow_id,
        task_queue=task_queue,
        search_attributes=attributes,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        # When this process also runs a worker for the queue (the benchmarks, an embedded
        # deployment), its first workflow task comes back with the start response.
        request_eager_start=True,
    )

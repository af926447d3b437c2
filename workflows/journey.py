"""JourneyWorkflow: the deterministic interpreter of a journey document.

It walks the node graph from `start`, dispatching each node to its handler (workflows/nodes/),
keeps a step log, accepts events by signal (for waits and exit criteria; each event id once),
answers a `state` query, and continues-as-new before its history grows too large.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeKey
from temporalio.exceptions import FailureError, is_cancelled_exception

with workflow.unsafe.imports_passed_through():
    from journey.contracts import search_attributes as sa
    from journey.contracts.actions import LOAD_USER, LoadUserInput, UserSnapshot
    from journey.contracts.executions import (
        RECORD_EXECUTION_OUTCOME,
        ExecutionOutcomeInput,
        summarize_steps,
    )
    from journey.contracts.runs import (
        CarriedState,
        JourneyInput,
        JourneyResult,
        JourneyState,
    )
    from workflows.context import (
        ActionExhausted,
        RunContext,
        activity_failure_cause,
        handles_activity_failure,
    )
    from workflows.patches import MIRROR_EXECUTION_OUTCOME
    from workflows.registry import WAITING_TYPES, handler_for

CARRIED_STEP_LOG = 200


@workflow.defn(name="journey.Journey")
class JourneyWorkflow:
    @workflow.init
    def __init__(self, request: JourneyInput) -> None:
        self._request = request
        carried = request.carried
        variables = dict(request.journey.document.variables or {})
        variables.update(request.variables)
        if request.entry_event is not None:
            variables.setdefault("entry", request.entry_event)
        self._ctx = RunContext(
            request.journey,
            request.user_id,
            carried.variables if carried else variables,
            carried.user if carried else {"id": request.user_id, "attributes": {}},
            carried.last_event if carried else request.entry_event,
        )
        self._ctx.throttled_actions = request.throttled_actions
        if carried is not None:
            self._ctx.user_known = carried.user_known
            self._ctx.pending_events = list(carried.pending_events)
            self._ctx.seen_event_ids = dict.fromkeys(carried.seen_event_ids)
            self._ctx.visits = dict(carried.visits)
            self._ctx.step_log = list(carried.step_log)
        self._ctx.run_path = self._run_path
        self._ctx.publish = self._publish
        self._ctx.show_position = self._show_position
        # Search attribute values waiting for the next point the run blocks, and those shown.
        self._unshown: dict[str, str] = {}
        self._shown: dict[str, str] = {}
        self._steps_before = carried.steps_before if carried else 0
        self._status = "running"
        self._exit_event: dict[str, Any] | None = None

    # ---- the run ---------------------------------------------------------------------------

    @workflow.run
    async def run(self, request: JourneyInput) -> JourneyResult:
        """Interpret the journey, then mirror how it ended into `workflow_executions`.

        Not on continue-as-new: the run goes on under the same workflow id. The mirror is
        behind a patch so histories recorded before it replay without the extra activity.
        """
        try:
            result = await self._interpret(request)
        except workflow.ContinueAsNewError:
            raise
        except BaseException as err:
            if is_cancelled_exception(err):
                await self._mirror("cancelled", None)
            elif isinstance(err, FailureError):  # other errors fail the task, not the run
                await self._mirror("failed", str(err))
            raise
        await self._mirror("completed", None)
        return result

    async def _interpret(self, request: JourneyInput) -> JourneyResult:
        ctx = self._ctx
        ctx.patches.start()
        if request.carried is None:
            create = request.create_profile or request.journey.document.create_missing_profile
            await self._reload_user(create=create)
        self._publish_stage()
        start = request.carried.node_id if request.carried else request.journey.document.start
        main = asyncio.ensure_future(self._run_path(start))
        exited = asyncio.ensure_future(
            workflow.wait_condition(lambda: self._exit_event is not None)
        )
        try:
            await workflow.wait([main, exited], return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            await self._stop(main, exited)
            self._finish("cancelled")
            raise
        if main.done():
            exited.cancel()
            try:
                main.result()  # failures and continue-as-new propagate from here
            except Exception:
                self._status = "failed"
                raise
            self._finish(ctx.outcome or "completed")
        else:
            await self._stop(main, exited)
            self._finish("exited")
        return JourneyResult(
            outcome=ctx.outcome or "completed", variables=ctx.variables, step_log=ctx.step_log
        )

    async def _run_path(self, node_id: str | None) -> None:
        ctx = self._ctx
        while node_id is not None:
            if ctx.parallel_depth == 0:
                self._maybe_continue_as_new(node_id)
            node = ctx.nodes[node_id]
            visits = ctx.visits[node_id] = ctx.visits.get(node_id, 0) + 1
            limit = getattr(node, "max_iterations", None)
            if limit is not None and visits > limit:
                ctx.outcome = "max_iterations_exceeded"
                return
            entry = ctx.begin(node.id, node.type)
            self._publish()
            try:
                next_id = await handler_for(node.type)(node, ctx)
            except ActionExhausted as exhausted:
                ctx.finish(entry, "error", exhausted.reason)
                next_id = getattr(node, "on_error", None)
            except asyncio.CancelledError:
                ctx.waiting_for = None
                ctx.finish(entry, "cancelled")
                raise
            except Exception as err:
                ctx.finish(entry, "failed", str(err))
                raise
            else:
                ctx.finish(entry, "ok", f"next: {next_id}" if next_id else None)
            if node.type in WAITING_TYPES:
                await self._reload_user(create=False)
            if node.type == "lifecycle_transition":
                self._publish_stage()
            node_id = next_id

    async def _reload_user(self, *, create: bool) -> None:
        snapshot = await self._database_step()(
            LOAD_USER,
            LoadUserInput(user_id=self._ctx.user_id, create_if_missing=create),
            result_type=UserSnapshot | None,
            start_to_close_timeout=timedelta(seconds=15),
            retry_policy=RetryPolicy(maximum_interval=timedelta(seconds=30)),
            summary="load the user's profile",
        )
        self._ctx.user_known = snapshot is not None
        if snapshot is not None:
            self._ctx.user = snapshot.model_dump(mode="json")

    def _database_step(self) -> Any:
        """How a short database step runs: a local activity in lean runs, an activity before."""
        return (
            workflow.execute_local_activity if self._ctx.patches.lean else workflow.execute_activity
        )

    async def _stop(self, *tasks: asyncio.Future[Any]) -> None:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _maybe_continue_as_new(self, node_id: str) -> None:
        info = workflow.info()
        too_long = info.get_current_history_length() >= self._request.max_history_events
        if not (too_long or info.is_continue_as_new_suggested()):
            return
        ctx = self._ctx
        dropped = max(0, len(ctx.step_log) - CARRIED_STEP_LOG)
        carried = CarriedState(
            node_id=node_id,
            variables=ctx.variables,
            user=ctx.user,
            user_known=ctx.user_known,
            last_event=ctx.last_event,
            pending_events=ctx.pending_events,
            seen_event_ids=list(ctx.seen_event_ids),
            visits=ctx.visits,
            step_log=ctx.step_log[dropped:],
            steps_before=self._steps_before + dropped,
        )
        workflow.continue_as_new(self._request.model_copy(update={"carried": carried}))

    # ---- visibility ------------------------------------------------------------------------

    def _visible(self) -> bool:
        return workflow.info().typed_search_attributes.get(sa.JOURNEY_ID) is not None

    def _publish_stage(self) -> None:
        stage = self._ctx.user.get("current_lifecycle_stage")
        if stage:
            self._set_attribute(sa.LIFECYCLE_STAGE, str(stage))

    def _publish(self) -> None:
        ctx = self._ctx
        current = ", ".join(ctx.current_nodes) or "-"
        self._set_attribute(sa.CURRENT_NODE, current)
        waiting = f"; waiting for {ctx.waiting_for}" if ctx.waiting_for else ""
        workflow.set_current_details(f"{ctx.document.name}: at {current}{waiting}")

    def _set_attribute(self, key: SearchAttributeKey[str], value: str) -> None:
        if not self._visible():
            return
        if not self._ctx.patches.lean:
            workflow.upsert_search_attributes([key.value_set(value)])
            return
        # Lean runs send them where the run is about to block (an activity, a timer, an event,
        # a child, the end), in one upsert: each upsert is a history event and a visibility
        # write on the server, and nobody can look at a position the run only passed through.
        self._unshown[key.name] = value

    def _show_position(self) -> None:
        """Send the search attributes that changed since they were last shown, at once."""
        changed = {k: v for k, v in self._unshown.items() if self._shown.get(k) != v}
        self._unshown.clear()
        if changed:
            workflow.upsert_search_attributes(
                [sa.BY_NAME[name].value_set(value) for name, value in changed.items()]
            )
            self._shown.update(changed)

    async def _mirror(self, status: str, error: str | None) -> None:
        """Report the end of the run. Called after catching cancellation, which Temporal
        allows: new commands still run. A mirror that keeps failing must not fail the run."""
        self._show_position()
        if not self._ctx.patches.has(MIRROR_EXECUTION_OUTCOME):
            return
        ctx, info = self._ctx, workflow.info()
        outcome = ExecutionOutcomeInput(
            workflow_id=info.workflow_id,
            run_id=info.run_id,
            journey_id=ctx.journey.journey_id,
            journey_version=ctx.journey.version,
            user_id=ctx.user_id,
            status=status,
            outcome=ctx.outcome if status != "failed" else None,
            error_message=error,
            variables=ctx.variables,
            finished_at=workflow.now(),
            # Payload only (no new commands): per-node counts and the goal, for the metrics.
            nodes=summarize_steps(ctx.step_log, ctx.variables.get("variants")),
            goal_reached=ctx.holds(ctx.document.goal) if ctx.document.goal else None,
        )
        try:
            await self._database_step()(
                RECORD_EXECUTION_OUTCOME,
                outcome,
                start_to_close_timeout=timedelta(seconds=15),
                retry_policy=RetryPolicy(maximum_attempts=5),
                summary="mirror the run's end into workflow_executions",
            )
        except FailureError as exc:
            if not handles_activity_failure(exc):
                raise
            cause = activity_failure_cause(exc)
            workflow.logger.warning("could not mirror the run's end: %s", cause or exc)

    def _finish(self, outcome: str) -> None:
        self._ctx.outcome = outcome
        self._status = "cancelled" if outcome == "cancelled" else "completed"
        workflow.set_current_details(f"{self._ctx.document.name}: finished, outcome {outcome}")

    # ---- signals and queries ---------------------------------------------------------------

    @workflow.signal(name="event")
    def deliver_event(self, event: dict[str, Any]) -> None:
        """An event of the user. Kafka delivers at least once: a redelivered event (same `id`)
        is ignored, by the waits and the exit criteria alike (see RunContext.receive)."""
        ctx = self._ctx
        if not ctx.receive(event):
            return
        criteria = ctx.document.exit_criteria
        if criteria is not None and self._exit_event is None and ctx.holds(criteria, event):
            self._exit_event = event

    @workflow.query(name="state")
    def state(self) -> JourneyState:
        ctx = self._ctx
        return JourneyState(
            journey_id=ctx.journey.journey_id,
            version=ctx.journey.version,
            user_id=ctx.user_id,
            status=self._status,
            current_nodes=list(ctx.current_nodes),
            waiting_for=ctx.waiting_for,
            variables=ctx.variables,
            step_log=ctx.step_log,
            outcome=ctx.outcome,
        )

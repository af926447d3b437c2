"""The state of one journey run and the services node handlers use.

Everything here runs inside the deterministic workflow: time comes from `workflow.now()`,
activities are called by name with typed inputs, and conditions are evaluated in place.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError, FailureError

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel

    from dsl.conditions import evaluate
    from dsl.nodes import (
        EmailNode,
        EmitEventNode,
        LifecycleTransitionNode,
        UpdateAttributesNode,
        WebhookNode,
    )
    from journey.contracts.actions import (
        LIFECYCLE_TRANSITION,
        UNKNOWN_USER,
        UPDATE_ATTRIBUTES,
        ActionMeta,
        TemplateContext,
    )
    from journey.contracts.runs import JourneySnapshot, StepLogEntry
    from workflows.patches import (
        DEDUPE_DELIVERED_EVENTS,
        LOCAL_FAILURES_REACH_ON_ERROR,
        THROTTLED_ACTION_QUEUES,
        UNKNOWN_USER_CHECK,
        Patches,
    )
    from workflows.policies import retry_policy, start_to_close
    from workflows.task_queues import action_queue

ResultT = TypeVar("ResultT", bound=BaseModel)
# The nodes whose handlers call `RunContext.act`: a union rather than `ActionNode`, which has no
# `type` (the policy table's key). A new action node type is added here with its handler.
ActingNode = (
    EmailNode | WebhookNode | UpdateAttributesNode | EmitEventNode | LifecycleTransitionNode
)
# In lean runs (workflows/patches.py) short database steps (loading the profile, attribute
# updates, stage changes, the end-of-run mirror) run as local activities, inside the workflow
# task that asks for them, instead of a round trip through the server each. They stay
# idempotent: the effect ledger dedupes a step re-run after a lost workflow task.
LOCAL_ACTIONS = frozenset({UPDATE_ATTRIBUTES, LIFECYCLE_TRANSITION})
MAX_PENDING_EVENTS = 500
# The ids remembered for dedupe (the most recent ones); carried across continue-as-new.
MAX_SEEN_EVENT_IDS = 1_000


def handles_activity_failure(err: FailureError) -> bool:
    """Whether the run handles `err` as an activity's failure (a node's `on_error`, the end-of-run
    mirror's warning) rather than letting it end the run.

    A regular activity's failure arrives as an ActivityError; a local activity's arrives
    unwrapped (ApplicationError, TimeoutError). Runs recorded before LOCAL_FAILURES_REACH_ON_ERROR
    let the latter fail the run; the patch is asked only here, so only runs that meet such a failure
    record it. A cancellation is never handled here."""
    if isinstance(err, ActivityError):
        return True
    return not isinstance(err, CancelledError) and workflow.patched(LOCAL_FAILURES_REACH_ON_ERROR)


def activity_failure_cause(err: FailureError) -> BaseException | None:
    """What the activity itself raised (see `handles_activity_failure`)."""
    return err.cause if isinstance(err, ActivityError) else err


class ActionExhausted(Exception):
    """An action failed after its retries and the node has `on_error`: the run goes there."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class RunContext:
    def __init__(
        self,
        journey: JourneySnapshot,
        user_id: str,
        variables: dict[str, Any],
        user: dict[str, Any],
        last_event: dict[str, Any] | None,
    ) -> None:
        self.journey = journey
        self.document = journey.document
        self.nodes = {node.id: node for node in journey.document.nodes}
        self.user_id = user_id
        self.variables = variables
        self.user = user
        self.user_known = True
        self.last_event = last_event
        self.pending_events: list[dict[str, Any]] = []
        # Ids of the events received, oldest first (a dict: ordered, with O(1) lookups).
        self.seen_event_ids: dict[str, None] = {}
        self.visits: dict[str, int] = {}
        self.step_log: list[StepLogEntry] = []
        self.current_nodes: list[str] = []
        self.waiting_for: str | None = None
        self.outcome: str | None = None
        self.parallel_depth = 0
        self.patches = Patches()
        # From the run's input (JourneyInput.throttled_actions): where actions are scheduled.
        self.throttled_actions: list[str] | None = None
        # Set by the workflow: runs a path of nodes until it ends (used by `parallel`), and
        # shows the run's position in the Temporal UI.
        self.run_path: Callable[[str], Awaitable[None]]
        self.publish: Callable[[], None] = lambda: None
        # Sends the run's position to the Temporal UI; called where the run is about to block.
        self.show_position: Callable[[], None] = lambda: None

    # ---- data seen by conditions and templates ---------------------------------------------

    def condition_context(self, event: dict[str, Any] | None = None) -> dict[str, Any]:
        return {
            "user": self.user,
            "event": event if event is not None else (self.last_event or {}),
            "vars": self.variables,
        }

    def holds(self, condition: Any, event: dict[str, Any] | None = None) -> bool:
        return evaluate(condition, self.condition_context(event))

    def template_context(self) -> TemplateContext:
        info = workflow.info()
        return TemplateContext(
            user=self.user,
            event=self.last_event,
            vars=self.variables,
            journey={
                "id": self.journey.journey_id,
                "name": self.document.name,
                "version": self.journey.version,
                "workflow_id": info.workflow_id,
                "run_id": info.run_id,
            },
        )

    def action_meta(self, node_id: str) -> ActionMeta:
        info = workflow.info()
        return ActionMeta(
            effect_key=f"{info.run_id}:{node_id}:{self.visits.get(node_id, 1)}",
            journey_id=self.journey.journey_id,
            journey_version=self.journey.version,
            workflow_id=info.workflow_id,
            run_id=info.run_id,
            node_id=node_id,
            user_id=self.user_id,
        )

    # ---- events ----------------------------------------------------------------------------

    def receive(self, event: dict[str, Any]) -> bool:
        """Buffer a delivered event for the waits; False when it is a redelivery, ignored.

        A redelivery is an event whose `id` this run has already received, whatever became of
        it (still pending, taken by a wait, or matched by the exit criteria). Only the last
        MAX_SEEN_EVENT_IDS ids are remembered; an event without an id is always received.
        """
        event_id = event.get("id")
        if isinstance(event_id, str) and event_id and self.patches.has(DEDUPE_DELIVERED_EVENTS):
            if event_id in self.seen_event_ids:
                return False
            self.seen_event_ids[event_id] = None
            while len(self.seen_event_ids) > MAX_SEEN_EVENT_IDS:
                del self.seen_event_ids[next(iter(self.seen_event_ids))]
        self.pending_events.append(event)
        # An event nobody waits for must not grow the run's state without bound.
        del self.pending_events[:-MAX_PENDING_EVENTS]
        return True

    def take_event(self, event_type: str, match: Any | None) -> dict[str, Any] | None:
        """Remove and return the first buffered event of this type that satisfies `match`."""
        for index, event in enumerate(self.pending_events):
            if event.get("type") != event_type:
                continue
            if match is not None and not self.holds(match, event):
                continue
            del self.pending_events[index]
            self.last_event = event
            return event
        return None

    # ---- the step log ----------------------------------------------------------------------

    def begin(self, node_id: str, node_type: str) -> StepLogEntry:
        entry = StepLogEntry(node_id=node_id, type=node_type, started_at=workflow.now())
        self.step_log.append(entry)
        self.current_nodes.append(node_id)
        return entry

    def finish(self, entry: StepLogEntry, outcome: str, detail: str | None = None) -> None:
        entry.finished_at = workflow.now()
        entry.outcome = outcome
        entry.detail = detail
        if entry.node_id in self.current_nodes:
            self.current_nodes.remove(entry.node_id)

    def wait_reason(self, reason: str | None) -> None:
        self.waiting_for = reason
        self.publish()
        if reason is not None:
            self.show_position()

    def now(self) -> datetime:
        return workflow.now()

    # ---- actions ---------------------------------------------------------------------------

    async def act(
        self, node: ActingNode, activity: str, arg: BaseModel, result_type: type[ResultT]
    ) -> ResultT:
        """Run an action node's activity. When retries are exhausted the run goes to the
        node's `on_error` (ActionExhausted); without one, the run fails."""
        if not self.user_known and self.patches.has(UNKNOWN_USER_CHECK):
            reason = (
                f"user {self.user_id!r} has no profile and journey {self.document.name!r} "
                "does not create profiles (create_missing_profile)"
            )
            if node.on_error:
                raise ActionExhausted(f"UnknownUser: {reason}")
            raise ApplicationError(reason, type=UNKNOWN_USER, non_retryable=True)
        timeout = start_to_close(node.type, node.timeout)
        policy = retry_policy(node.type, node.retry)
        summary = f"{node.id}: {node.type}"
        try:
            if activity in LOCAL_ACTIONS and self.patches.lean:
                return await workflow.execute_local_activity(
                    activity,
                    arg,
                    result_type=result_type,
                    start_to_close_timeout=timeout,
                    retry_policy=policy,
                    summary=summary,
                )
            queue = action_queue(workflow.info().task_queue, activity, self.throttled_actions)
            if queue is not None and not self.patches.has(THROTTLED_ACTION_QUEUES):
                queue = None
            self.show_position()
            return await workflow.execute_activity(
                activity,
                arg,
                task_queue=queue,
                result_type=result_type,
                start_to_close_timeout=timeout,
                retry_policy=policy,
                summary=summary,
            )
        except FailureError as err:
            if not handles_activity_failure(err):
                raise
            cause = activity_failure_cause(err)
            reason = f"{type(cause).__name__}: {cause}" if cause is not None else str(err)
            if node.on_error:
                raise ActionExhausted(reason) from err
            raise ApplicationError(
                f"node {node.id} ({node.type}) failed: {reason}",
                type="ActionFailed",
                non_retryable=True,
            ) from err

"""The stack-check activity: a real database write performed by the worker for a workflow.

`journey dev --smoke` runs it to prove the Temporal -> worker -> database path end to end.
"""

from __future__ import annotations

from temporalio import activity

from journey.contracts.maintenance import StackCheckInput, StackCheckResult
from journey.core.db.engine import SessionFactory
from journey.core.db.models import LifecycleEvent

STACK_CHECK_EVENT = "stack.check"


class StackCheckActivities:
    def __init__(self, session_factory: SessionFactory) -> None:
        self._session_factory = session_factory

    @activity.defn(name="record_stack_check")
    def record_stack_check(self, check: StackCheckInput) -> StackCheckResult:
        info = activity.info()
        with self._session_factory() as session:
            row = LifecycleEvent(
                event_type=STACK_CHECK_EVENT,
                event_data={
                    "check_id": check.check_id,
                    "requested_by": check.requested_by,
                    "workflow_id": info.workflow_id,
                    "run_id": info.workflow_run_id,
                },
            )
            session.add(row)
            session.commit()
            session.refresh(row)
            assert row.id is not None
            return StackCheckResult(
                check_id=check.check_id, audit_row_id=row.id, attempt=info.attempt
            )

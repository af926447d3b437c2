"""Mirroring a run's end into `workflow_executions`, called by the run itself.

The run reports its own end (instead of the gateway polling Temporal) so that every run is
mirrored within seconds, whoever started it: the gateway, a Kafka trigger or a script. The
write is an idempotent upsert, so activity retries are harmless.
"""

from __future__ import annotations

from temporalio import activity

from journey.contracts.executions import RECORD_EXECUTION_OUTCOME, ExecutionOutcomeInput
from journey.core.db.engine import SessionFactory
from journey.services.runs.executions import record_outcome


class ExecutionActivities:
    def __init__(self, session_factory: SessionFactory) -> None:
        self._session_factory = session_factory

    @activity.defn(name=RECORD_EXECUTION_OUTCOME)
    def record_execution_outcome(self, outcome: ExecutionOutcomeInput) -> bool:
        """True when a row holds the outcome; False for runs that cannot have one (ad-hoc
        journey ids or users that are not stored)."""
        with self._session_factory() as session:
            return record_outcome(session, outcome) is not None

"""Activities of the scheduled metrics and maintenance jobs (workflows/maintenance.py).

Each is idempotent: a rollup replaces its day, partitions are created only when missing, and a
purge deletes what is expired whenever it runs. They are synchronous (SQLModel) and run on the
worker's thread pool; the purge commits and heartbeats after every batch, so a retry resumes
with what is left instead of redoing work.
"""

from __future__ import annotations

from temporalio import activity

from journey.contracts.maintenance import (
    ENSURE_PARTITIONS,
    PURGE_EXPIRED,
    ROLLUP_METRICS_DAY,
    EnsurePartitionsInput,
    PurgeInput,
    PurgeResult,
    RollupDayInput,
    RollupDayResult,
)
from journey.core.db.engine import SessionFactory
from journey.services.metrics.partitions import drop_partitions_before, ensure_partitions
from journey.services.metrics.retention import purge_batch
from journey.services.metrics.rollup import rollup_day


class MetricsActivities:
    def __init__(self, session_factory: SessionFactory) -> None:
        self._session_factory = session_factory

    @activity.defn(name=ROLLUP_METRICS_DAY)
    def rollup_metrics_day(self, request: RollupDayInput) -> RollupDayResult:
        with self._session_factory() as session:
            rows = rollup_day(session, day=request.day)
        return RollupDayResult(day=request.day, rows=rows)

    @activity.defn(name=ENSURE_PARTITIONS)
    def ensure_partitions(self, request: EnsurePartitionsInput) -> list[str]:
        """The lifecycle_events partitions created (none on SQLite or when all exist)."""
        with self._session_factory() as session:
            created = ensure_partitions(
                session.connection(), now=request.now, months_ahead=request.months_ahead
            )
            session.commit()
        return created

    @activity.defn(name=PURGE_EXPIRED)
    def purge_expired(self, request: PurgeInput) -> PurgeResult:
        dropped: list[str] = []
        if request.table == "lifecycle_events":
            with self._session_factory() as session:
                dropped = drop_partitions_before(session.connection(), cutoff=request.cutoff)
                session.commit()
        deleted = 0
        for _ in range(request.max_batches):
            with self._session_factory() as session:
                count = purge_batch(
                    session,
                    table=request.table,
                    cutoff=request.cutoff,
                    batch_size=request.batch_size,
                )
                session.commit()
            deleted += count
            activity.heartbeat(deleted)
            if count < request.batch_size:
                return PurgeResult(
                    table=request.table, deleted=deleted, done=True, dropped_partitions=dropped
                )
        return PurgeResult(
            table=request.table, deleted=deleted, done=False, dropped_partitions=dropped
        )

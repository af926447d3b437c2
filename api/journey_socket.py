"""One journey's runs on a WebSocket: every run open when the socket connects, and every run
that starts while it is connected, each followed like the SSE stream (journey/services/live.py).

Messages are JSON objects with an `event`:
- `subscribed`: `{journey_id, open, following}` once, first.
- `run`: a run this socket now follows (`execution_id`, `workflow_id`, `user_id`, `status`).
- `node_entered`, `node_completed`, `waiting`, `outcome`: the run's events, with the same
  `execution_id` / `workflow_id` / `user_id`, the event `id` and its `data`.
- `run_skipped`: a run not followed because the socket follows `stream_max_runs` already.
- `stream_error`: following one run failed (`detail`); the others go on.

New runs are found in the `workflow_executions` mirror, where the gateway and the Kafka
consumer reserve a row before every start: every `stream_poll_seconds`, rows that started
since the last look (with a margin for rows committed a little after their start time).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import WebSocket
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlmodel import col, select

from api.deps import AppState
from journey.core.db.models import WorkflowExecution
from journey.services.live import current_run_id, follow_run

AUTH_TIMEOUT = 10.0  # seconds a socket has to send its token
OPEN = ("pending", "running")
# Rows are looked for from this long before the newest one seen: a row's start time is set
# before the transaction that inserts it commits.
COMMIT_MARGIN = timedelta(seconds=10)
# A `pending` row's run is being started right now: its id is asked for a few times.
PENDING_TRIES = 20


def describe_error(exc: Exception) -> str:
    """What a client is told when following a run fails (reconnecting may resume it); the
    socket and the SSE stream (api/routes/live.py) say it the same way."""
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return f"following the run failed: {message}"


@dataclass(frozen=True)
class _Run:
    execution_id: uuid.UUID
    workflow_id: str
    run_id: str | None
    user_id: str
    status: str
    started_at: datetime

    def labels(self) -> dict[str, Any]:
        return {
            "execution_id": str(self.execution_id),
            "workflow_id": self.workflow_id,
            "user_id": self.user_id,
        }


# Only what following needs: rows also carry the run's variables, which can be large.
_COLUMNS: tuple[Any, ...] = (
    WorkflowExecution.id,
    WorkflowExecution.temporal_workflow_id,
    WorkflowExecution.temporal_run_id,
    WorkflowExecution.user_id,
    WorkflowExecution.status,
    WorkflowExecution.started_at,
)


def _runs(rows: Any) -> list[_Run]:
    return [
        _Run(execution_id, workflow_id, run_id, user_id, status, started or datetime.now(UTC))
        for execution_id, workflow_id, run_id, user_id, status, started in rows
    ]


def _open_runs(state: AppState, journey_id: uuid.UUID, limit: int) -> tuple[list[_Run], int]:
    """The newest `limit` open runs, oldest first, and how many are open in all."""
    where = (
        col(WorkflowExecution.workflow_id) == journey_id,
        col(WorkflowExecution.status).in_(OPEN),
    )
    with state.session_factory() as session:
        total = session.exec(select(func.count()).select_from(WorkflowExecution).where(*where))
        rows = session.execute(
            sa_select(*_COLUMNS)
            .where(*where)
            .order_by(col(WorkflowExecution.started_at).desc())
            .limit(limit)
        ).all()
        return _runs(reversed(rows)), int(total.one())


def _started_since(state: AppState, journey_id: uuid.UUID, since: datetime) -> list[_Run]:
    with state.session_factory() as session:
        rows = session.execute(
            sa_select(*_COLUMNS)
            .where(
                col(WorkflowExecution.workflow_id) == journey_id,
                col(WorkflowExecution.started_at) >= since,
            )
            .order_by(col(WorkflowExecution.started_at))
        ).all()
        return _runs(rows)


class JourneySocket:
    def __init__(self, websocket: WebSocket, state: AppState, journey_id: uuid.UUID) -> None:
        self.websocket = websocket
        self.state = state
        self.journey_id = journey_id
        self.outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue(1024)
        self.tasks: set[asyncio.Task[None]] = set()
        self.following: set[str] = set()

    def spawn(self, work: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        task = asyncio.create_task(work, name=f"journey-live-ws:{name}")
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    async def run(self) -> None:
        """Until the client goes away or finding runs fails; every task is cancelled then."""
        parts = [
            self.spawn(self._receive_until_closed(), "receive"),
            self.spawn(self._send(), "send"),
            self.spawn(self._find_runs(), "find"),
        ]
        try:
            done, _ = await asyncio.wait(parts, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in list(self.tasks):
                task.cancel()
            await asyncio.gather(*self.tasks, return_exceptions=True)
        finder = parts[2]
        if finder in done and not finder.cancelled() and finder.exception() is not None:
            with contextlib.suppress(Exception):  # the client may be gone already
                await self.websocket.close(code=1011, reason="could not read the runs")

    async def _receive_until_closed(self) -> None:
        while (await self.websocket.receive())["type"] != "websocket.disconnect":
            pass  # nothing is expected from the client once it is authenticated

    async def _send(self) -> None:
        while True:
            await self.websocket.send_json(await self.outbox.get())

    async def _find_runs(self) -> None:
        settings = self.state.settings
        since = datetime.now(UTC) - COMMIT_MARGIN
        runs, total = await run_in_threadpool(
            _open_runs, self.state, self.journey_id, settings.stream_max_runs
        )
        await self.outbox.put(
            {
                "event": "subscribed",
                "journey_id": str(self.journey_id),
                "open": total,
                "following": len(runs),
            }
        )
        seen = {run.workflow_id: run.started_at for run in runs}
        for run in runs:
            await self._follow(run)
        while True:
            await asyncio.sleep(settings.stream_poll_seconds)
            fresh = await run_in_threadpool(_started_since, self.state, self.journey_id, since)
            for run in fresh:
                if run.workflow_id not in seen:
                    seen[run.workflow_id] = run.started_at
                    await self._follow(run)
            if fresh:
                since = max(since, fresh[-1].started_at - COMMIT_MARGIN)
                seen = {key: at for key, at in seen.items() if at >= since}

    async def _follow(self, run: _Run) -> None:
        if len(self.following) >= self.state.settings.stream_max_runs:
            reason = f"this socket follows {len(self.following)} runs already (stream_max_runs)"
            await self.outbox.put({"event": "run_skipped", **run.labels(), "reason": reason})
            return
        self.following.add(run.workflow_id)
        self.spawn(self._follow_one(run), run.workflow_id)

    async def _follow_one(self, run: _Run) -> None:
        labels = run.labels()
        try:
            await self.outbox.put({"event": "run", **labels, "status": run.status})
            temporal = self.state.temporal
            tries = PENDING_TRIES if run.status == "pending" else 1
            run_id = await current_run_id(temporal, run.workflow_id, run.run_id, tries=tries)
            async with contextlib.aclosing(follow_run(temporal, run.workflow_id, run_id)) as events:
                async for event in events:
                    await self.outbox.put(
                        {"event": event.event, **labels, "id": event.id, "data": event.data}
                    )
        except Exception as exc:
            await self.outbox.put(
                {"event": "stream_error", **labels, "detail": describe_error(exc)}
            )
        finally:
            self.following.discard(run.workflow_id)


async def stream_journey(websocket: WebSocket, state: AppState, journey_id: uuid.UUID) -> None:
    await JourneySocket(websocket, state, journey_id).run()

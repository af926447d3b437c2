"""`POST /api/workflows/{id}/start` latency under concurrent clients vs a bare FastAPI app.

Both apps run the same way: a uvicorn subprocess on a free 127.0.0.1 port (this module's
`serve`), so the load generator never shares an event loop or the GIL with a server. Ours is
the gateway (`api.main.create_app`: auth, audit row, executions row, start); the baseline is a
FastAPI app with one endpoint that only calls `client.start_workflow` with the same journey
input and search attributes. No worker polls the task queues: only starting is measured. Rounds
alternate between the two, so a change in machine load hits both alike.
"""

from __future__ import annotations

import asyncio
import pickle
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import func
from sqlmodel import select

from api.auth import Role, create_token
from api.schemas.executions import StartRequest
from bench.core import Result, Scenario, Size, percentile
from bench.stack import BenchStack, bench_stack, free_port
from dsl.validation import validate_journey
from journey.contracts.runs import JourneyInput, JourneySnapshot
from journey.contracts.search_attributes import start_attributes
from journey.core.config import Settings
from journey.core.db.models import User, WorkflowExecution
from journey.core.temporal.client import connect_client
from journey.services.definitions import create_workflow, snapshot_of
from workflows.journey import JourneyWorkflow

NAME = "api_start_latency"
CLIENTS = 50
ROUNDS = 2  # per app, alternating
MAX_ATTEMPTS = 5  # per request, with the 503 retries
WARMUP = 25  # requests per server before its first measured round (connections, imports)
END_ONLY = {"name": "bench api start", "start": "done", "nodes": [{"id": "done", "type": "end"}]}


def bare_app(settings: Settings, snapshot: JourneySnapshot) -> FastAPI:
    """The baseline: one endpoint, no auth, no database, just the start."""
    state: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        state["client"] = await connect_client(settings)
        yield

    app = FastAPI(lifespan=lifespan)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/start", status_code=201)
    async def start(body: StartRequest) -> dict[str, str]:
        request = JourneyInput(
            journey=snapshot,
            user_id=body.user_id,
            variables=body.variables,
            entry_event=body.entry_event,
        )
        handle = await state["client"].start_workflow(
            JourneyWorkflow.run,
            request,
            id=f"bare-{body.user_id}-{uuid.uuid4().hex}",
            task_queue=settings.temporal_task_queue,
            search_attributes=start_attributes(snapshot.journey_id, snapshot.version, body.user_id),
        )
        return {"run_id": handle.result_run_id or ""}

    return app


def serve(kind: str, port: int, state_file: str) -> None:
    """The subprocess: `python -m bench.scenarios.api_start_latency <kind> <port> <pickle>`."""
    import uvicorn

    from api.main import create_app

    settings, snapshot = pickle.loads(Path(state_file).read_bytes())
    app = create_app(settings) if kind == "journey" else bare_app(settings, snapshot)
    # Keep-alive well past any latency here: a server closing an idle pooled connection just
    # as a client reuses it would fail that request.
    uvicorn.run(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan="on", timeout_keep_alive=120
    )


@asynccontextmanager
async def _server(stack: BenchStack, kind: str, state: Any) -> AsyncIterator[str]:
    state_file = stack.data_dir / f"{kind}.pickle"
    state_file.write_bytes(pickle.dumps(state))  # settings with their secrets, not JSON-masked
    port = free_port()
    log = (stack.data_dir / f"{kind}.log").open("wb")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.scenarios.api_start_latency",
        kind,
        str(port),
        str(state_file),
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=Path(__file__).parents[2],
    )
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient() as probe:
            deadline = time.monotonic() + 60
            while True:
                try:
                    await probe.get(f"{url}/health", timeout=5)  # any answer: it listens
                    break
                except httpx.TransportError:
                    if process.returncode is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"{kind} server did not start; see {log.name}") from None
                    await asyncio.sleep(0.1)
        yield url
    except BaseException:
        # The data directory goes with the stack: show why the server failed while it is here.
        tail = (await asyncio.to_thread(Path(log.name).read_bytes))[-3000:].decode(errors="replace")
        sys.stderr.write(f"--- {kind} server log (tail) ---\n{tail}\n")
        raise
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 15)
        log.close()


async def _load(
    url: str, path: str, token: str | None, total: int, offset: int, retries: Counter[str]
) -> list[float]:
    """`total` POSTs from CLIENTS concurrent clients; -> each latency in ms, from the first
    attempt to the 201. A 503 is retried after its Retry-After, as the gateway tells clients
    to (SQLite's one writer can make a burst wait past the busy timeout; nothing was stored),
    at most MAX_ATTEMPTS times, with the same Idempotency-Key, as a client that retries should;
    `retries` counts them. Any other answer fails the run."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    latencies: list[float] = []
    pending = iter(range(offset, offset + total))
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits) as http:

        async def client(lane: int) -> None:
            for i in pending:
                body = {"user_id": f"u{lane}", "variables": {"i": i}}
                key = {"Idempotency-Key": f"bench-{i}"}
                begun = time.perf_counter()
                for _ in range(MAX_ATTEMPTS):
                    answer = await http.post(path, json=body, headers=key, timeout=60)
                    if answer.status_code != 503:
                        break
                    retries["503"] += 1
                    await asyncio.sleep(float(answer.headers.get("retry-after", "1")))
                latencies.append((time.perf_counter() - begun) * 1000)
                if answer.status_code != 201:
                    raise RuntimeError(f"{path}: {answer.status_code} {answer.text[:300]}")

        await asyncio.gather(*(client(lane) for lane in range(CLIENTS)))
    return latencies


async def _count(client: Any, queue: str, expected: int) -> None:
    deadline = time.monotonic() + 60
    while (found := (await client.count_workflows(f'TaskQueue = "{queue}"')).count) != expected:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{found} runs on {queue}, expected {expected}")
        await asyncio.sleep(0.2)


async def run(settings: Settings, size: Size) -> list[Result]:
    secret, per_round = uuid.uuid4().hex, size.n // ROUNDS
    # One token for all clients: the per-caller rate limit would answer 429 to most of them.
    overrides: dict[str, Any] = {"jwt_secret": SecretStr(secret), "api_rate_limit_per_minute": 0}
    async with bench_stack(settings, temporal_task_queue="bench-api-journey", **overrides) as stack:
        document = validate_journey(END_ONLY).document
        assert document is not None
        with stack.session_factory() as session:
            row = create_workflow(session, document=document, created_by="bench", status="active")
            session.add_all(User(id=f"u{lane}") for lane in range(CLIENTS))
            session.commit()
            snapshot = snapshot_of(row)
        ours_settings = stack.settings
        bare_settings = ours_settings.model_copy(update={"temporal_task_queue": "bench-api-bare"})
        token = create_token(ours_settings, subject="bench", role=Role.operator)
        ours: list[float] = []
        bare: list[float] = []
        ours_retries: Counter[str] = Counter()
        bare_retries: Counter[str] = Counter()
        async with (
            _server(stack, "journey", (ours_settings, snapshot)) as ours_url,
            _server(stack, "bare", (bare_settings, snapshot)) as bare_url,
        ):
            path = f"/api/workflows/{row.id}/start"
            await _load(ours_url, path, token, WARMUP, 0, Counter())
            await _load(bare_url, "/start", None, WARMUP, 0, Counter())
            for round_ in range(ROUNDS):
                offset = WARMUP + round_ * per_round
                ours += await _load(ours_url, path, token, per_round, offset, ours_retries)
                bare += await _load(bare_url, "/start", None, per_round, offset, bare_retries)
        started = WARMUP + ROUNDS * per_round
        await _count(stack.client, ours_settings.temporal_task_queue, started)
        await _count(stack.client, bare_settings.temporal_task_queue, started)
        with stack.session_factory() as session:
            query = select(func.count()).select_from(WorkflowExecution)
            rows = session.exec(query.where(WorkflowExecution.status == "running")).one()
        if rows != started:
            raise RuntimeError(f"{rows} executions rows running, expected {started}")
    n = ROUNDS * per_round
    notes = {
        "clients": CLIENTS,
        "database": "postgresql" if stack.is_postgres else "sqlite",
        "retried_503": {"ours": ours_retries["503"], "baseline": bare_retries["503"]},
    }
    return [
        Result(NAME, percentile(ours, q), percentile(bare, q), "ms", n, "lower", f"p{q}", notes)
        for q in (50, 99)
    ]


SCENARIO = Scenario(
    name=NAME,
    description=f"POST /api/workflows/{{id}}/start latency, {CLIENTS} concurrent clients, vs a "
    "bare FastAPI endpoint that only calls start_workflow (both uvicorn subprocesses).",
    run=run,
    quick=Size(quick=True, n=200),
    full=Size(quick=False, n=5000),
)

if __name__ == "__main__":
    serve(sys.argv[1], int(sys.argv[2]), sys.argv[3])

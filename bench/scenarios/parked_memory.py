"""Worker memory per 1,000 journeys parked in a wait, against a hand-written waiting workflow.

Each side's worker runs in its own process so its resident set (RSS, read with psutil) is
its alone. Ours is `journey worker` (JOURNEY_* settings in the environment, schedules off) with
a journey that loads the user and parks in `wait_for_event` (30-day timeout); the baseline is
the small script below: a plain temporalio Worker whose workflow waits on a signal with
`workflow.wait_condition`. Both use the SDK's default workflow cache (`max_cached_workflows`),
so past that many parked runs the worker holds only the cached ones and evicts the rest. The
baseline runs in the SDK's default sandbox, which re-imports the workflow module for every run;
Journey's worker runs as its settings say (`workflow_sandbox`, in the notes).

Per side: start the worker, run a few warm-up workflows to the end (the sandbox imports the
workflow code once; that is start-up cost, not per-run cost), read RSS ("idle"), start N runs
at once and wait until visibility shows all N parked (each marks `JourneyCurrentNode` when it
starts waiting; the baseline does the same one upsert), let the worker settle, read RSS again.
Reported: (RSS parked - RSS idle) per 1,000 parked runs in MiB; the ratio is ours / baseline.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import psutil
from sqlalchemy import insert
from temporalio.client import Client
from temporalio.worker import Worker

from bench.core import Result, Scenario, Size
from bench.stack import BenchStack, bench_stack
from dsl.validation import validate_journey
from journey.contracts.runs import JourneyInput, JourneySnapshot
from journey.contracts.search_attributes import CURRENT_NODE, start_attributes
from journey.core.config import Settings
from journey.core.db.models import User
from journey.core.runtime import READY_PREFIX

NAME = "parked_memory"
REPO = Path(__file__).resolve().parents[2]
WARMUP = 20
SETTLE_SECONDS = 2.0
READY_TIMEOUT = 60.0
MIB = 1024 * 1024
# Both workers leave the SDK's workflow cache at its default; past it, parked runs are evicted.
CACHE_DEFAULT = inspect.signature(Worker).parameters["max_cached_workflows"].default

PARK_JOURNEY = {
    "name": "parked",
    "start": "park",
    "nodes": [
        {
            "id": "park",
            "type": "wait_for_event",
            "event_type": "bench.release",
            "timeout": "P30D",
            "on_event": "fin",
            "on_timeout": "fin",
        },
        {"id": "fin", "type": "end"},
    ],
}

# The baseline worker, run as its own script so it imports temporalio and nothing of Journey.
BASELINE_WORKER = f"""
import asyncio, sys
from datetime import timedelta
from temporalio import workflow
from temporalio.client import Client
from temporalio.common import SearchAttributeKey
from temporalio.worker import Worker

PARKED = SearchAttributeKey.for_keyword("{CURRENT_NODE.name}")


@workflow.defn(name="bench.Parked")
class Parked:
    def __init__(self) -> None:
        self.released = False

    @workflow.signal
    def release(self) -> None:
        self.released = True

    @workflow.run
    async def run(self) -> None:
        workflow.upsert_search_attributes([PARKED.value_set("park")])
        await workflow.wait_condition(lambda: self.released, timeout=timedelta(days=30))


async def main(address: str, namespace: str, queue: str) -> None:
    client = await Client.connect(address, namespace=namespace)
    async with Worker(client, task_queue=queue, workflows=[Parked]):
        print("{READY_PREFIX} baseline worker", flush=True)
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
"""


async def bounded(calls: Sequence[Callable[[], Awaitable[Any]]], limit: int) -> list[Any]:
    gate = asyncio.Semaphore(limit)

    async def one(call: Callable[[], Awaitable[Any]]) -> Any:
        async with gate:
            return await call()

    return list(await asyncio.gather(*(one(call) for call in calls)))


def rss_bytes(pid: int) -> int:
    return int(psutil.Process(pid).memory_info().rss)


def worker_env(settings: Settings, queue: str) -> dict[str, str]:
    """The environment minus inherited JOURNEY_*, plus the stack's servers on `queue`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOURNEY_")}
    env.update(
        JOURNEY_TEMPORAL_ADDRESS=settings.resolved_temporal_address,
        JOURNEY_TEMPORAL_NAMESPACE=settings.temporal_namespace,
        JOURNEY_TEMPORAL_TASK_QUEUE=queue,
        JOURNEY_DATABASE_URL=settings.resolved_database_url,
        JOURNEY_KAFKA_BOOTSTRAP=settings.resolved_kafka_bootstrap,
        JOURNEY_SMTP_HOST=settings.resolved_smtp_host,
        JOURNEY_SMTP_PORT=str(settings.smtp_port),
        JOURNEY_DATA_DIR=str(settings.data_dir),
        JOURNEY_SCHEDULES_ENABLED="false",
        # Whatever the settings say about the SDK sandbox, the subprocess says the same.
        JOURNEY_WORKFLOW_SANDBOX=str(bool(getattr(settings, "workflow_sandbox", True))).lower(),
        JOURNEY_LOG_LEVEL="WARNING",
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    )
    return env


async def start_process(
    command: list[str], env: dict[str, str], log: Path
) -> asyncio.subprocess.Process:
    """Start a worker (cwd outside the repository: no developer .env) and wait until ready."""
    out, err = log.with_suffix(".out"), log.with_suffix(".err")
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = await asyncio.create_subprocess_exec(
            *command,
            cwd=log.parent,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
        )
    deadline = time.monotonic() + READY_TIMEOUT
    while READY_PREFIX not in out.read_text(errors="replace"):
        if process.returncode is not None or time.monotonic() > deadline:
            await stop(process)
            tail = "\n".join(err.read_text(errors="replace").splitlines()[-20:])
            raise RuntimeError(f"worker {' '.join(command[1:])} not ready:\n{tail}")
        await asyncio.sleep(0.1)
    return process


async def stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), timeout=15)
        except TimeoutError:
            process.kill()
            await process.wait()


async def wait_parked(client: Client, queue: str, n: int, timeout: float) -> None:
    query = (
        f'TaskQueue = "{queue}" AND {CURRENT_NODE.name} = "park" AND ExecutionStatus = "Running"'
    )
    deadline = time.monotonic() + timeout
    while (count := (await client.count_workflows(query)).count) < n:
        if time.monotonic() > deadline:
            raise AssertionError(f"only {count} of {n} runs parked on {queue} in {timeout:.0f} s")
        await asyncio.sleep(0.5)
    if count != n:
        raise AssertionError(f"{count} runs parked on {queue}, expected {n}")


@dataclass(frozen=True)
class Sample:
    ready: int  # RSS bytes once the worker polls
    idle: int  # after the warm-up runs finished
    parked: int  # with n runs parked
    park_seconds: float  # from the first start until visibility showed all n parked


async def measure_side(
    stack: BenchStack,
    command: list[str],
    queue: str,
    start: Callable[[str], Awaitable[Any]],
    release: Callable[[Any], Awaitable[None]],
    n: int,
) -> Sample:
    """RSS of a worker process at ready, idle after warm-up, and with n runs parked."""
    log = stack.data_dir / f"{queue}.log"
    process = await start_process(command, worker_env(stack.settings, queue), log)
    try:
        ready = rss_bytes(process.pid)
        warm = await bounded([partial(start, f"{queue}-warm-{i}") for i in range(WARMUP)], 20)
        await wait_parked(stack.client, queue, WARMUP, timeout=60)
        for handle in warm:
            await release(handle)
        await asyncio.gather(*(handle.result() for handle in warm))
        await asyncio.sleep(SETTLE_SECONDS)
        idle = rss_bytes(process.pid)
        started = time.monotonic()
        await bounded([partial(start, f"{queue}-{i}") for i in range(n)], 50)
        await wait_parked(stack.client, queue, n, timeout=max(120.0, n / 10))
        park_seconds = time.monotonic() - started
        await asyncio.sleep(SETTLE_SECONDS)
        parked = rss_bytes(process.pid)
        if process.returncode is not None:
            raise AssertionError(f"the worker on {queue} exited; see {log}")
        return Sample(ready, idle, parked, park_seconds)
    finally:
        await stop(process)


async def run(settings: Settings, size: Size) -> Sequence[Result]:
    n = size.n
    async with bench_stack(settings) as stack:
        client = stack.client
        with stack.session_factory() as session:
            ids = [f"p{i}" for i in range(n + WARMUP)]
            session.execute(insert(User), [{"id": i, "email": f"{i}@example.com"} for i in ids])
            session.commit()
        document = validate_journey(PARK_JOURNEY).document
        assert document is not None
        journey = JourneySnapshot(journey_id="bench-parked", version="1", document=document)
        users = iter(ids)

        ours_queue = f"bench-parked-{uuid.uuid4().hex[:8]}"

        async def start_ours(workflow_id: str) -> Any:
            user = next(users)
            return await client.start_workflow(
                "journey.Journey",
                JourneyInput(journey=journey, user_id=user),
                id=workflow_id,
                task_queue=ours_queue,
                search_attributes=start_attributes(journey.journey_id, journey.version, user),
            )

        async def release_ours(handle: Any) -> None:
            await handle.signal("event", {"type": "bench.release", "id": uuid.uuid4().hex})

        ours_command = [sys.executable, "-m", "journey", "worker"]
        ours = await measure_side(stack, ours_command, ours_queue, start_ours, release_ours, n)

        base_queue = f"bench-wait-{uuid.uuid4().hex[:8]}"
        script = stack.data_dir / "baseline_worker.py"
        script.write_text(BASELINE_WORKER)
        base_command = [
            sys.executable,
            str(script),
            stack.settings.resolved_temporal_address,
            stack.settings.temporal_namespace,
            base_queue,
        ]

        async def start_base(workflow_id: str) -> Any:
            return await client.start_workflow(
                "bench.Parked", id=workflow_id, task_queue=base_queue
            )

        async def release_base(handle: Any) -> None:
            await handle.signal("release")

        base = await measure_side(stack, base_command, base_queue, start_base, release_base, n)
    n_k = n / 1000
    notes: dict[str, Any] = {
        "max_cached_workflows": CACHE_DEFAULT,
        "parked_per_side": n,
        # The baseline runs in the SDK's default sandbox; Journey's worker as configured.
        "ours_sandbox": getattr(stack.settings, "workflow_sandbox", True),
    }
    for side, sample in (("ours", ours), ("baseline", base)):
        notes[f"{side}_rss_mib"] = {
            when: round(getattr(sample, when) / MIB, 1) for when in ("ready", "idle", "parked")
        }
        notes[f"{side}_park_s"] = round(sample.park_seconds, 1)
    return [
        Result(
            scenario=NAME,
            metric="RSS per 1,000 parked",
            ours=(ours.parked - ours.idle) / MIB / n_k,
            baseline=(base.parked - base.idle) / MIB / n_k,
            unit="MiB",
            n=n,
            better="lower",
            notes=notes,
        )
    ]


SCENARIO = Scenario(
    name=NAME,
    description=(
        "Worker RSS growth per 1,000 runs parked in a wait: `journey worker` with a "
        "wait_for_event journey vs a minimal temporalio worker waiting on a signal."
    ),
    run=run,
    quick=Size(quick=True, n=200),
    full=Size(quick=False, n=10_000),
)

"""Does the email task queue hold its configured global rate?

Starts a Temporal dev server, an SMTP capture server and a SQLite database, runs N one-email
journeys at once with `email_max_per_second` set, and prints one JSON line comparing the rate
at which the SMTP server received mail ("ours") with the configured rate ("baseline"). A ratio
at or just under 1.0 means the limit holds; far above 1.0 means it leaks.

    .venv/bin/python -m bench.throttle [--n 40] [--rate 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from temporalio.testing import WorkflowEnvironment

from dsl.validation import validate_journey
from journey.config import Settings
from journey.db.engine import create_db_engine, make_session_factory, run_migrations
from journey.db.models import User
from journey.embedded import temporal_cli_path
from journey.temporal_client import DATA_CONVERTER
from worker import journey_worker
from workflows.journey import JourneyWorkflow
from workflows.models import JourneyInput, JourneySnapshot

ONE_EMAIL = {
    "name": "one email",
    "start": "mail",
    "nodes": [
        {"id": "mail", "type": "email", "to": "{{ user.email }}", "subject": "hi", "text": "x",
         "next": "fin"},
        {"id": "fin", "type": "end"},
    ],
}  # fmt: skip


class Arrivals:
    def __init__(self) -> None:
        self.times: list[float] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.times.append(time.monotonic())
        return "250 OK"


async def measure(n: int, rate: float) -> dict[str, Any]:
    arrivals = Arrivals()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    smtp = Controller(arrivals, hostname="127.0.0.1", port=port)
    smtp.start()
    with tempfile.TemporaryDirectory() as data:
        url = f"sqlite:///{Path(data) / 'bench.db'}"
        run_migrations(url)
        engine = create_db_engine(url)
        sessions = make_session_factory(engine)
        with sessions() as session:
            session.add_all(User(id=f"u{i}", email=f"u{i}@example.com") for i in range(n))
            session.commit()
        settings = Settings(
            _env_file=None, database_url=url, smtp_host="127.0.0.1", smtp_port=smtp.port,
            email_max_per_second=rate, kafka_bootstrap="127.0.0.1:1",
        )  # fmt: skip
        document = validate_journey(ONE_EMAIL).document
        assert document is not None
        journey = JourneySnapshot(journey_id="bench", version="1", document=document)
        env = await WorkflowEnvironment.start_local(
            dev_server_existing_path=temporal_cli_path(), data_converter=DATA_CONVERTER
        )
        queue = f"bench-{uuid.uuid4().hex[:8]}"
        try:
            async with journey_worker(env.client, settings, sessions, task_queue=queue):
                handles = await asyncio.gather(*(
                    env.client.start_workflow(
                        JourneyWorkflow.run, JourneyInput(journey=journey, user_id=f"u{i}"),
                        id=f"{queue}-{i}", task_queue=queue,
                    )
                    for i in range(n)
                ))  # fmt: skip
                await asyncio.gather(*(handle.result() for handle in handles))
        finally:
            await env.shutdown()
            engine.dispose()
            smtp.stop()
    span = arrivals.times[-1] - arrivals.times[0]
    achieved = (len(arrivals.times) - 1) / span if span > 0 else float("inf")
    return {"scenario": "email_throttle", "ours": round(achieved, 2), "baseline": rate,
            "ratio": round(achieved / rate, 3), "unit": "emails/s", "n": n}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=40)
    parser.add_argument("--rate", type=float, default=10.0)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(measure(args.n, args.rate))))


if __name__ == "__main__":
    main()

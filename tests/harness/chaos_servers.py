"""Servers the chaos suite stops and starts again: each its own process on a fixed port.

The session servers of the other harness modules are shared by every test, so they must never
go away; the chaos scenarios that take a server down start a private one instead:

- `TemporalServer`: `temporal server start-dev` persisting to a SQLite file (WAL), as
  `journey dev` runs it, so a restart on the same port and file resumes every run.
- `TansuBroker`: a tansu broker with in-memory storage. A restart loses its topics, offsets
  and groups: that is tansu's storage engine, not something a test can change.
- `ThreadedProxy`: a TcpProxy (cut / restore) on its own thread, for blocking clients.
- `PrivatePostgres`: a throwaway PostgreSQL cluster (initdb in a temporary directory, run as
  the `postgres` OS user), so stopping it for real disturbs nobody else's database.

Each keeps its port across restarts and writes its output to a log file whose tail is part of
any start-up error.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient
from temporalio.client import Client

from journey.contracts.search_attributes import dev_server_flags
from journey.core.embedded.servers import tansu_command, tansu_environment, temporal_cli_path
from journey.core.temporal.client import DATA_CONVERTER
from tests.harness.ports import free_port, wait_for_port
from tests.harness.proxy import TcpProxy

__all__ = [
    "PrivatePostgres",
    "TansuBroker",
    "TemporalServer",
    "ThreadedProxy",
    "postgres_unavailable_reason",
]

# Hang guards only.
STARTUP_TIMEOUT = 90.0
STOP_TIMEOUT = 30.0


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as exc:
        return f"<no log: {exc}>"


def _end(process: subprocess.Popen[bytes] | None, sig: int) -> int | None:
    """Send `sig` and reap the process (SIGKILL after STOP_TIMEOUT); its exit code."""
    if process is None:
        return None
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT)
    return process.returncode


class TemporalServer:
    """A persisted Temporal dev server on a fixed port; stop and start it again at will."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.db_file = directory / "temporal.db"
        self.port = free_port()
        self.starts = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._log = directory / "temporal.log"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def argv(self) -> list[str]:
        return [
            temporal_cli_path(),
            "server",
            "start-dev",
            "--db-filename",
            str(self.db_file),
            "--sqlite-pragma",
            "journal_mode=WAL",
            "--sqlite-pragma",
            "synchronous=NORMAL",
            "--ip",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--headless",
            "--log-level",
            "warn",
            # Custom search attributes usable the instant they exist (as in the harness).
            "--dynamic-config-value",
            "system.forceSearchAttributesCacheRefreshOnRead=true",
            *dev_server_flags(),
        ]

    async def start(self) -> None:
        """Start (again, on the same port and file) and wait until a client gets an answer."""
        self._process = self._spawn()
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            if self._process.poll() is not None:
                raise RuntimeError(f"temporal exited {self._process.returncode}:\n{self.logs()}")
            try:
                client = await self.client()
                await client.count_workflows("")  # the frontend and visibility both answer
                return
            except Exception as exc:
                if time.monotonic() > deadline:
                    await self.stop(signal.SIGKILL)
                    raise RuntimeError(f"temporal not ready: {exc}\n{self.logs()}") from exc
                await asyncio.sleep(0.2)

    def _spawn(self) -> subprocess.Popen[bytes]:
        self.starts += 1
        with self._log.open("ab") as log:
            log.write(f"---- start {self.starts}\n".encode())
            log.flush()
            return subprocess.Popen(
                self.argv(),
                cwd=self.directory,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    async def client(self) -> Client:
        return await Client.connect(self.address, data_converter=DATA_CONVERTER)

    async def stop(self, sig: int = signal.SIGTERM) -> int | None:
        """Stop the server (SIGTERM: a graceful shutdown; SIGKILL: a crash)."""
        code = await asyncio.to_thread(_end, self._process, sig)
        self._process = None
        return code

    def logs(self) -> str:
        return _tail(self._log)


class TansuBroker:
    """A tansu broker (memory storage) on a fixed port: kill it and start an empty one."""

    def __init__(self, directory: Path, *, advertised_port: int | None = None) -> None:
        """`advertised_port`: the port clients are told to connect to (e.g. a TcpProxy's in
        front of the broker); default the broker's own."""
        self.directory = directory
        self.port = free_port()
        self.advertised_port = advertised_port or self.port
        self.starts = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._log = directory / "tansu.log"

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        self.starts += 1
        url, advertised = f"tcp://127.0.0.1:{self.port}", f"tcp://127.0.0.1:{self.advertised_port}"
        with self._log.open("ab") as log:
            self._process = subprocess.Popen(
                tansu_command(url, advertised=advertised, cluster_id="journey-chaos"),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=tansu_environment(),
            )
        admin = AdminClient({"bootstrap.servers": self.bootstrap, "log_level": 0})
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            if self._process.poll() is not None:
                raise RuntimeError(f"tansu exited {self._process.returncode}:\n{self.logs()}")
            try:
                admin.list_topics(timeout=1)
                return
            except KafkaException as exc:
                if time.monotonic() > deadline:
                    self.kill()
                    raise RuntimeError(f"tansu not ready: {exc}\n{self.logs()}") from exc
                time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: the broker is gone at once, with everything it held in memory."""
        _end(self._process, signal.SIGKILL)
        self._process = None

    def stop(self) -> None:
        # tansu ends on SIGINT and ignores SIGTERM.
        _end(self._process, signal.SIGINT)
        self._process = None

    def logs(self) -> str:
        return _tail(self._log)


class ThreadedProxy:
    """A tests.harness.proxy.TcpProxy on an event loop of its own thread.

    The plain proxy runs on the test's loop, which synchronous clients (librdkafka admin calls,
    a blocking `ensure_topics`) would stall while they wait on it; this one keeps forwarding
    whatever the test's loop does. `cut()` and `restore()` block until done.
    """

    def __init__(self, target_host: str, target_port: int) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="proxy", daemon=True)
        self._thread.start()
        self.proxy = TcpProxy(target_host, target_port)
        self._call(self.proxy.start())

    def _call(self, coroutine: Coroutine[Any, Any, None]) -> None:
        asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=STOP_TIMEOUT)

    @property
    def port(self) -> int:
        return self.proxy.port

    @property
    def address(self) -> str:
        return self.proxy.address

    def cut(self) -> None:
        self._call(self.proxy.cut())

    def restore(self) -> None:
        self._call(self.proxy.restore())

    def close(self) -> None:
        self._call(self.proxy.cut())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=STOP_TIMEOUT)
        self._loop.close()


POSTGRES_BIN = Path("/usr/lib/postgresql/15/bin")
RUNUSER = shutil.which("runuser")


def postgres_unavailable_reason() -> str | None:
    """Why a private PostgreSQL cannot be run here, or None when it can."""
    if not (POSTGRES_BIN / "initdb").is_file() or not (POSTGRES_BIN / "pg_ctl").is_file():
        return f"no PostgreSQL server binaries in {POSTGRES_BIN}"
    if os.geteuid() != 0:
        return "a private PostgreSQL runs as the postgres OS user, which needs root"
    if RUNUSER is None:
        return "runuser is not installed"
    try:
        import pwd

        pwd.getpwnam("postgres")
    except KeyError:
        return "there is no postgres OS user"
    return None


class PrivatePostgres:
    """A PostgreSQL 15 cluster of its own (trust auth, fsync off) in a temporary directory.

    The directory is made with `tempfile.mkdtemp` (not pytest's tmp_path, whose parents only
    root may enter) and handed to the postgres user, which initdb and pg_ctl run as.
    """

    def __init__(self) -> None:
        self.port = free_port()
        self.directory = Path(tempfile.mkdtemp(prefix="journey-chaos-pg-"))
        self.data = self.directory / "data"
        self.log = self.directory / "postgres.log"
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"
        shutil.chown(self.directory, "postgres", "postgres")

    def _as_postgres(self, *argv: str) -> None:
        assert RUNUSER is not None
        result = subprocess.run(
            [RUNUSER, "-u", "postgres", "--", *argv],
            cwd=self.directory,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=120,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"{' '.join(argv)} failed ({result.returncode}): "
                f"{result.stdout.decode(errors='replace')}{result.stderr.decode(errors='replace')}"
                f"\n{_tail(self.log)}"
            )

    def init(self) -> None:
        self._as_postgres(
            str(POSTGRES_BIN / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--no-sync",
        )

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.directory} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._as_postgres(
            str(POSTGRES_BIN / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        )
        wait_for_port("127.0.0.1", self.port, timeout=STARTUP_TIMEOUT)

    def stop(self, mode: str = "fast") -> None:
        self._as_postgres(
            str(POSTGRES_BIN / "pg_ctl"),
            "-D",
            str(self.data),
            "-m",
            mode,
            "-w",
            "-t",
            "60",
            "stop",
        )

    def destroy(self) -> None:
        """Stop (immediately) if running, and delete the cluster."""
        with contextlib.suppress(RuntimeError):  # not running
            self.stop("immediate")
        shutil.rmtree(self.directory, ignore_errors=True)

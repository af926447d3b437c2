"""Child processes of `journey dev`: started, watched until ready, and stopped as a group.

Children run in their own session so a terminal Ctrl-C reaches only the supervisor, which then
stops them in order; they also get SIGTERM if the supervisor dies without cleaning up.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import socket
from collections import deque
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import BinaryIO

from journey.core.runtime import READY_PREFIX

PR_SET_PDEATHSIG = 1
LOG_TAIL_LINES = 20
READ_CHUNK_BYTES = 64 * 1024
# Characters of one output line kept for the ready check and the error tail; the log gets all.
MAX_LINE_CHARS = 4096


class StackError(Exception):
    """A component could not start. Printed as one line: component, problem, what to do."""

    def __init__(self, component: str, problem: str, hint: str = "") -> None:
        self.component = component
        self.problem = problem
        self.hint = hint
        super().__init__(self.one_line())

    def one_line(self) -> str:
        text = f"{self.component}: {self.problem}"
        return f"{text} — {self.hint}" if self.hint else text


def ensure_port_free(component: str, host: str, port: int, hint: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise StackError(component, f"port {port} on {host} is already in use", hint) from exc


def _die_with_parent() -> None:
    # Linux only; elsewhere the orderly shutdown path is the only one.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


Probe = Callable[[], Awaitable[object]]


class _LineSplitter:
    """Splits a byte stream into lines, keeping at most `keep` bytes of each (memory bound)."""

    def __init__(self, keep: int) -> None:
        self._keep = keep
        self._partial = bytearray()

    def feed(self, chunk: bytes) -> list[bytes]:
        *complete, rest = chunk.split(b"\n")
        lines = []
        for piece in complete:
            lines.append(bytes(self._partial + piece[: self._keep])[: self._keep])
            self._partial.clear()
        room = self._keep - len(self._partial)
        if room > 0:
            self._partial += rest[:room]
        return lines

    def flush(self) -> bytes | None:
        rest = bytes(self._partial) if self._partial else None
        self._partial.clear()
        return rest


class ManagedProcess:
    """One child: output teed to a log file, readiness by a READY line or by a probe."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        *,
        log_path: Path,
        env: dict[str, str] | None = None,
        probe: Probe | None = None,
        stop_signal: signal.Signals = signal.SIGTERM,
    ) -> None:
        self.name = name
        self.argv = argv
        self.log_path = log_path
        self.env = env
        self.probe = probe
        self.stop_signal = stop_signal
        self.process: asyncio.subprocess.Process | None = None
        self._ready_line = asyncio.Event()
        self._tail: deque[str] = deque(maxlen=LOG_TAIL_LINES)
        self._reader: asyncio.Task[None] | None = None
        self._log_failed = False

    async def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.process = await asyncio.create_subprocess_exec(
                *self.argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                env=self.env,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        except OSError as exc:
            raise StackError(self.name, f"could not run {self.argv[0]}: {exc.strerror}") from exc
        self._reader = asyncio.create_task(self._read_output())

    async def _read_output(self) -> None:
        """Tee the child's output to its log until the pipe closes, whatever the child writes.

        The reader must never stop draining: a child whose pipe fills blocks inside its next
        write, so an over-long line (a 64 KiB request URL in an access log) or a log file that
        cannot be written must not end this task. Output is read in chunks rather than lines;
        only the first MAX_LINE_CHARS of a line are kept for the ready check and the tail.
        """
        assert self.process is not None and self.process.stdout is not None
        lines = _LineSplitter(MAX_LINE_CHARS)
        with self.log_path.open("ab") as log:
            while chunk := await self.process.stdout.read(READ_CHUNK_BYTES):
                self._write_log(log, chunk)
                for line in lines.feed(chunk):
                    self._see_line(line)
            if (rest := lines.flush()) is not None:
                self._see_line(rest)

    def _write_log(self, log: BinaryIO, chunk: bytes) -> None:
        try:
            log.write(chunk)
            log.flush()
        except OSError as exc:  # a full disk loses log lines, never the child
            if not self._log_failed:
                self._log_failed = True
                self._tail.append(f"(writing {self.log_path} failed: {exc.strerror})")

    def _see_line(self, raw: bytes) -> None:
        line = raw.decode(errors="replace").rstrip()
        self._tail.append(line)
        if line.startswith(READY_PREFIX):
            self._ready_line.set()

    def last_output(self) -> str:
        lines = [line for line in self._tail if line.strip()]
        return lines[-1][:200] if lines else "no output"

    @property
    def returncode(self) -> int | None:
        return None if self.process is None else self.process.returncode

    async def wait_ready(self, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        last_error = "no answer"
        while loop.time() < deadline:
            if self.returncode is not None:
                if self._reader is not None:
                    await self._reader
                raise StackError(
                    self.name,
                    f"exited with code {self.returncode}: {self.last_output()}",
                    f"see {self.log_path}",
                )
            if self.probe is None:
                if self._ready_line.is_set():
                    return
            else:
                try:
                    await asyncio.wait_for(self.probe(), timeout=5)
                    return
                except Exception as exc:
                    last_error = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            await asyncio.sleep(0.2)
        raise StackError(
            self.name,
            f"did not become ready within {timeout:.0f}s ({last_error[:120]})",
            f"see {self.log_path}",
        )

    async def wait_exit(self) -> int:
        assert self.process is not None
        return await self.process.wait()

    async def stop(self, grace: float) -> None:
        process = self.process
        if process is None or process.returncode is not None:
            return
        self._signal_group(self.stop_signal)
        try:
            await asyncio.wait_for(process.wait(), grace)
        except TimeoutError:
            self._signal_group(signal.SIGKILL)
            await process.wait()
        if self._reader is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._reader, 2)

    def _signal_group(self, sig: signal.Signals) -> None:
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, sig)

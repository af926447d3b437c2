"""A TCP proxy that can take a real server away and give it back: outages without mocks.

Tests point a client (a Temporal client, a database engine) at `proxy.address` instead of the
server. Bytes are forwarded unchanged in both directions, so the client talks to the real
server; `await proxy.cut()` then drops every live connection and refuses new ones, exactly what
a client sees when the server goes down, and `await proxy.restore()` accepts again on the same
port, as when the server comes back.

The proxy runs on the test's event loop. Clients that block (a database driver in a worker
thread, the Temporal SDK's own runtime) are fine; a test must not block the loop itself for
long while such a client is waiting on the proxy.
"""

from __future__ import annotations

import asyncio
import contextlib
from types import TracebackType

__all__ = ["TcpProxy"]

CHUNK = 64 * 1024


class TcpProxy:
    """Forwards 127.0.0.1:<free port> to target_host:target_port until cut.

    Usage: `async with TcpProxy(host, port) as proxy: ... await proxy.cut() ...`.
    """

    def __init__(self, target_host: str, target_port: int, *, host: str = "127.0.0.1") -> None:
        self.target_host = target_host
        self.target_port = target_port
        self.host = host
        self.port = 0  # chosen by the kernel on the first start, kept across cut/restore
        self.accepted = 0  # connections forwarded to the target so far (evidence of use)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task[None]] = set()

    @property
    def address(self) -> str:
        """host:port clients connect to instead of the target."""
        return f"{self.host}:{self.port}"

    @property
    def is_cut(self) -> bool:
        return self._server is None

    @property
    def live_connections(self) -> int:
        return len(self._handlers)

    async def start(self) -> None:
        """Listen (again). The first start picks a free port; later ones reuse it."""
        if self._server is not None:
            return
        self._server = await asyncio.start_server(
            self._handle, self.host, self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def restore(self) -> None:
        """Accept connections again after `cut`, on the same address."""
        await self.start()

    async def cut(self) -> None:
        """Stop listening (new connections are refused) and reset every live connection."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        # A handler that was still connecting to the target sees `is_cut` and gives up.
        if self._handlers:
            await asyncio.gather(*self._handlers, return_exceptions=True)
        if server is not None:
            await server.wait_closed()

    async def __aenter__(self) -> TcpProxy:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.cut()

    # ---- one connection ---------------------------------------------------------------------

    async def _handle(
        self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self._writers.add(client_writer)
        server_writer: asyncio.StreamWriter | None = None
        try:
            if self.is_cut:
                return
            try:
                server_reader, server_writer = await asyncio.open_connection(
                    self.target_host, self.target_port
                )
            except OSError:
                return  # the target itself is down: the client sees its connection closed
            self._writers.add(server_writer)
            if self.is_cut:  # cut while connecting
                return
            self.accepted += 1
            pipes = [
                asyncio.create_task(self._pipe(client_reader, server_writer)),
                asyncio.create_task(self._pipe(server_reader, client_writer)),
            ]
            # Either side closing ends the connection (no half-open connections to keep).
            _, pending = await asyncio.wait(pipes, return_when=asyncio.FIRST_COMPLETED)
            for pipe in pending:
                pipe.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        finally:
            for writer in (client_writer, server_writer):
                if writer is None:
                    continue
                self._writers.discard(writer)
                if self.is_cut:
                    writer.transport.abort()
                else:
                    writer.close()
            self._handlers.discard(task)

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await reader.read(CHUNK):
                writer.write(data)
                await writer.drain()

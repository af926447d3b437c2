"""A real HTTP server that records requests and answers as each test tells it to.

Webhook and HTTP activities are tested against actual sockets, so timeouts, resets and status
handling go through the same httpx code paths as in production. Responses are programmed per
path: `respond(..., times=N)` queues a response for the next N requests, `times=None` sets the
standing answer, `fail` makes the server reset the connection without answering. Anything not
programmed gets 200 `{"ok": true}`.

The server (stdlib ThreadingHTTPServer) answers on its own threads; all shared state sits behind
one lock and the async `wait_for` polls it from the test's event loop.
"""

from __future__ import annotations

import asyncio
import json as jsonlib
import socket
import struct
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.harness.ports import free_port

DEFAULT_BODY = b'{"ok": true}'


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes
    received_at: float  # time.time()

    def json(self) -> Any:
        return jsonlib.loads(self.body)


@dataclass
class _Rule:
    status: int = 200
    body: bytes = DEFAULT_BODY
    headers: dict[str, str] | None = None
    delay: float = 0.0
    drop: bool = False
    remaining: int | None = None  # None: applies to every request


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client giving up (e.g. timing out on a delayed answer) is expected, not an error."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class HttpReceiver:
    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = free_port(host)
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._queued: dict[str, deque[_Rule]] = {}
        self._standing: dict[str, _Rule] = {}
        self._stopping = threading.Event()
        self._server = _Server((host, self.port), _make_handler(self))
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="http-receiver", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()  # wakes handlers sleeping in a programmed delay
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    # ---- test API --------------------------------------------------------------------------

    def url(self, path: str = "/") -> str:
        return f"http://{self.host}:{self.port}/{path.lstrip('/')}"

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def respond(
        self,
        path: str,
        status: int = 200,
        json: Any = None,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        delay: float = 0.0,
        times: int | None = None,
    ) -> None:
        """Program the answer for `path`: the next `times` requests, or every one if None."""
        hdrs = dict(headers or {})
        if json is not None:
            body = jsonlib.dumps(json).encode()
            hdrs.setdefault("Content-Type", "application/json")
        self._add(path, _Rule(status=status, body=body, headers=hdrs, delay=delay), times)

    def fail(self, path: str, times: int | None = 1) -> None:
        """Reset the connection (TCP RST, no HTTP response) for the next `times` requests."""
        self._add(path, _Rule(drop=True), times)

    def reset(self) -> None:
        """Forget recorded requests and programmed responses."""
        with self._lock:
            self._requests.clear()
            self._queued.clear()
            self._standing.clear()

    # The timeout argument is part of the harness API (ASYNC109 prefers asyncio.timeout).
    async def wait_for(
        self,
        count: int = 1,
        timeout: float = 10.0,
    ) -> list[RecordedRequest]:
        """Wait until at least `count` requests arrived; returns all recorded requests."""
        deadline = time.monotonic() + timeout
        while True:
            received = self.requests
            if len(received) >= count:
                return received
            if time.monotonic() >= deadline:
                seen = [f"{r.method} {r.path}" for r in received]
                raise TimeoutError(f"expected {count} request(s) within {timeout}s, got {seen}")
            await asyncio.sleep(0.02)

    # ---- server side -----------------------------------------------------------------------

    def _add(self, path: str, rule: _Rule, times: int | None) -> None:
        key = "/" + path.lstrip("/")
        with self._lock:
            if times is None:
                self._standing[key] = rule
            elif times > 0:
                rule.remaining = times
                self._queued.setdefault(key, deque()).append(rule)

    def _record_and_choose(self, request: RecordedRequest) -> _Rule:
        with self._lock:
            self._requests.append(request)
            queue = self._queued.get(request.path)
            if queue:
                rule = queue[0]
                assert rule.remaining is not None
                rule.remaining -= 1
                if rule.remaining <= 0:
                    queue.popleft()
                return rule
            return self._standing.get(request.path, _Rule())

    def _sleep(self, seconds: float) -> None:
        self._stopping.wait(seconds)


def _make_handler(receiver: HttpReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, like the servers httpx usually talks to
        timeout = 30  # idle keep-alive connections release their thread eventually

        def _handle(self) -> None:
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            rule = receiver._record_and_choose(
                RecordedRequest(
                    method=self.command,
                    path=url.path,
                    query=parse_qs(url.query, keep_blank_values=True),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                    received_at=time.time(),
                )
            )
            if rule.delay:
                receiver._sleep(rule.delay)
            if rule.drop:
                # SO_LINGER with a zero timeout turns close() into a TCP RST: "connection reset".
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
                self.close_connection = True
                self.connection.close()
                return
            self.send_response(rule.status)
            for name, value in (rule.headers or {}).items():
                self.send_header(name, value)
            if rule.body == DEFAULT_BODY and not rule.headers:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(rule.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(rule.body)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle

        def log_message(self, format: str, *args: Any) -> None:
            """Silence the per-request stderr line; tests inspect `requests` instead."""

    return Handler


@pytest.fixture(scope="session")
def _http_receiver_session() -> Iterator[HttpReceiver]:
    receiver = HttpReceiver()
    receiver.start()
    try:
        yield receiver
    finally:
        receiver.stop()


@pytest.fixture
def http_receiver(_http_receiver_session: HttpReceiver) -> Iterator[HttpReceiver]:
    """The session's HTTP receiver with no recorded requests and no programmed responses."""
    _http_receiver_session.reset()
    yield _http_receiver_session
    _http_receiver_session.reset()

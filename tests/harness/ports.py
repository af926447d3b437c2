"""Free TCP ports and readiness waits for the real servers the tests start.

Every test server listens on a port the kernel hands out, so several pytest runs (or a developer's
`journey dev` on the default ports) can share a machine without collisions. Readiness is
"something accepts a TCP connection", polled with a short back-off instead of a fixed sleep, so
a slow machine waits longer and a fast one does not wait at all.
"""

from __future__ import annotations

import socket
import time


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago on `host`.

    The kernel picks it by binding port 0; the socket is closed again so the server under test can
    bind it. The tiny window in which another process could take it is acceptable for tests.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def port_is_open(host: str, port: int, connect_timeout: float = 0.5) -> bool:
    """Whether something accepts TCP connections on host:port right now."""
    try:
        with socket.create_connection((host, port), timeout=connect_timeout):
            return True
    except OSError:
        return False


def wait_for_port(host: str, port: int, timeout: float = 30.0) -> None:
    """Block until host:port accepts a TCP connection; raise TimeoutError after `timeout` seconds.

    The error names the address so a server that never came up is obvious in the test output.
    """
    deadline = time.monotonic() + timeout
    delay = 0.01
    while True:
        if port_is_open(host, port):
            return
        if time.monotonic() >= deadline:
            raise TimeoutError(f"nothing is listening on {host}:{port} after {timeout:.1f}s")
        time.sleep(delay)
        delay = min(delay * 2, 0.25)

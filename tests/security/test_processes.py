"""Attacks on the processes themselves: output that could stall a child, data others could read.

Finding 13 of the attack run: a request whose URL was longer than 64 KiB made the API's access
log write one line longer than the dev supervisor's line reader accepted; the reader died, the
pipe filled and the API blocked for good in its next log write. Finding 11: `journey dev` left
its databases, logs and captured mail readable by every user of the machine.
"""

from __future__ import annotations

import asyncio
import signal
import stat
import sys
from pathlib import Path

import httpx

from journey.dev.processes import MAX_LINE_CHARS, ManagedProcess
from tests.journey.dev.test_dev_command import (
    HANG_GUARD_SECONDS,
    JOURNEY,
    REPO,
    _wait_for_banner,
)
from tests.journey.dev.test_dev_command import stack_env as stack_env

# A hang guard for one child, not a timing assertion: it needs well under a second.
CHILD_GUARD_SECONDS = 30

# A line far beyond any line reader's default limit, the ready line, then (once the test says
# go) four megabytes more in long lines and a last line without its newline.
FLOOD = """
import os, sys, time
sys.stdout.write("x" * 300_000 + "\\n")
print("journey-ready: flood", flush=True)
while not os.path.exists(sys.argv[1]):
    time.sleep(0.05)
for _ in range(4):
    sys.stdout.write("y" * 1_000_000 + "\\n")
sys.stdout.write("no newline at the end " * 10_000)
"""


async def test_the_supervisor_drains_lines_of_any_length(tmp_path: Path) -> None:
    log_path = tmp_path / "flood.log"
    go = tmp_path / "go"
    child = ManagedProcess("flood", [sys.executable, "-c", FLOOD, str(go)], log_path=log_path)
    await child.start()
    try:
        await child.wait_ready(CHILD_GUARD_SECONDS)
        go.touch()
        # The child exits only if its pipe kept being drained to the end.
        assert await asyncio.wait_for(child.wait_exit(), CHILD_GUARD_SECONDS) == 0
    finally:
        await child.stop(grace=5)
    logged = log_path.read_bytes()
    assert logged.count(b"y" * 1_000_000 + b"\n") == 4
    assert logged.endswith(b"no newline at the end ")
    # What the supervisor keeps in memory of a line is bounded, whatever the child writes.
    assert "no newline at the end" in child.last_output()
    assert all(len(line) <= MAX_LINE_CHARS for line in child._tail)


def _readable_by_others(root: Path) -> list[str]:
    return [
        f"{path.relative_to(root)} {stat.filemode(path.stat().st_mode)}"
        for path in [root, *root.rglob("*")]
        if not path.is_symlink() and path.stat().st_mode & 0o077
    ]


async def test_the_dev_stack_keeps_data_private_and_survives_long_urls(
    stack_env: dict[str, str],
) -> None:
    port = int(stack_env["JOURNEY_API_PORT"])
    api = f"http://127.0.0.1:{port}"
    data_dir = Path(stack_env["JOURNEY_DATA_DIR"])
    # The umask most machines give: the stack must not rely on a stricter one from its caller.
    dev = await asyncio.create_subprocess_exec(
        *JOURNEY,
        "dev",
        env=stack_env,
        cwd=REPO,
        umask=0o022,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        await asyncio.wait_for(_wait_for_banner(dev), HANG_GUARD_SECONDS)
        drain = asyncio.create_task(_drain(dev))
        async with httpx.AsyncClient(timeout=CHILD_GUARD_SECONDS) as http:
            # Each answer (refused or not) is logged by the API; together far past a pipe's
            # buffer, so an API whose output is no longer drained would block on the next.
            for _ in range(8):
                assert await _status_of_long_request(port, 100_000) in (400, 404, 414)
            for _ in range(3):
                assert (await http.get(f"{api}/health")).status_code == 200
        assert not _readable_by_others(data_dir), _readable_by_others(data_dir)
        for name in ("journey.db", "temporal.db", "jwt-secret", "logs/api.log"):
            assert (data_dir / name).exists(), name
    finally:
        dev.send_signal(signal.SIGTERM)
        await asyncio.wait_for(dev.wait(), HANG_GUARD_SECONDS)
    drain.cancel()


async def _drain(process: asyncio.subprocess.Process) -> None:
    assert process.stdout is not None
    while await process.stdout.read(65536):
        pass


async def _status_of_long_request(port: int, path_length: int) -> int:
    """The status a request with a `path_length`-character path gets (raw: httpx caps URLs)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        request = f"GET /{'a' * path_length} HTTP/1.1\r\nHost: journey\r\n\r\n"
        writer.write(request.encode())
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), CHILD_GUARD_SECONDS)
        return int(status_line.split()[1])
    finally:
        writer.close()

"""The SSRF guard of call_webhook, against real listeners that must never see a request.

Refused destinations are checked end to end: the activity raises a non-retryable
`WebhookBlocked` naming the rule, and neither the HTTP receiver (127.0.0.1) nor an IPv6
loopback listener (::1) records a connection. Host names come from the resolver without DNS
(this machine has none): `localhost`, another /etc/hosts name for 127.x when there is one, and
`2130706433`, which httpx treats as a host *name* but every libc resolves to 127.0.0.1 (the
numeric form inet_aton accepts), so the resolve-then-check path is covered on any machine.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from temporalio.exceptions import ApplicationError

from activities.ssrf import Allowlist, block_reason
from activities.webhook import WEBHOOK_BLOCKED
from tests.activities.helpers import assert_non_retryable
from tests.activities.webhook_helpers import (
    HOSTS_NAME,
    call,
    request,
    webhook_activities,
    webhook_settings,
)
from tests.harness.env import JourneyEnv
from tests.harness.http_receiver import HttpReceiver
from tests.harness.needs import needs


class LoopbackListener:
    """A minimal HTTP/1.1 server on ::1 that counts connections and records Host headers."""

    def __init__(self) -> None:
        self.connections = 0
        self.hosts: list[str] = []
        self.port = 0
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "::1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        head = await reader.readuntil(b"\r\n\r\n")
        for line in head.decode("latin-1").split("\r\n"):
            name, _, value = line.partition(":")
            if name.lower() == "host":
                self.hosts.append(value.strip())
            if name.lower() == "content-length" and int(value):
                await reader.readexactly(int(value))
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        await writer.drain()
        writer.close()


@pytest_asyncio.fixture
async def ipv6_listener() -> AsyncIterator[LoopbackListener]:
    listener = LoopbackListener()
    try:
        await listener.start()
    except OSError as exc:
        pytest.skip(needs("ipv6", f"no IPv6 loopback here: {exc}"))
    yield listener
    await listener.stop()


NO_HOSTS_NAME = needs("hosts-name", "no /etc/hosts name (besides localhost) for a loopback address")
needs_hosts_name = pytest.mark.skipif(HOSTS_NAME is None, reason=NO_HOSTS_NAME)


@pytest.mark.parametrize(
    ("url", "rule"),
    [
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is link-local"),
        ("http://10.0.0.1/hook", "10.0.0.1 is private"),
        ("http://172.16.5.4/hook", "172.16.5.4 is private"),
        ("http://192.168.1.1/hook", "192.168.1.1 is private"),
        ("http://100.64.0.1/hook", "100.64.0.1 is carrier-grade NAT"),
        ("http://[fd00::1]/hook", "fd00::1 is unique-local"),
        ("http://[fe80::1]/hook", "fe80::1 is link-local"),
        ("http://0.0.0.0/hook", "0.0.0.0 is unspecified"),
        ("http://224.0.0.1/hook", "224.0.0.1 is multicast"),
        ("http://[::ffff:169.254.169.254]/", "is link-local (embeds 169.254.169.254)"),
    ],
)
async def test_internal_addresses_are_refused(journey_env: JourneyEnv, url: str, rule: str) -> None:
    async with webhook_activities(webhook_settings(journey_env.settings, allowlist=())) as hook:
        with pytest.raises(ApplicationError) as info:
            await call(hook, request(url))
    assert_non_retryable(info, WEBHOOK_BLOCKED)
    assert rule in str(info.value)


@pytest.mark.parametrize("target", ["127.0.0.1", "localhost", "2130706433", "hosts-file", "::1"])
async def test_loopback_is_refused_and_nothing_is_received(
    journey_env: JourneyEnv,
    http_receiver: HttpReceiver,
    ipv6_listener: LoopbackListener,
    target: str,
) -> None:
    if target == "hosts-file":
        if HOSTS_NAME is None:
            pytest.skip(NO_HOSTS_NAME)
        target = HOSTS_NAME
    port = ipv6_listener.port if target == "::1" else http_receiver.port
    host = f"[{target}]" if ":" in target else target
    async with webhook_activities(webhook_settings(journey_env.settings, allowlist=())) as hook:
        with pytest.raises(ApplicationError) as info:
            await call(hook, request(f"http://{host}:{port}/crm"))
    assert_non_retryable(info, WEBHOOK_BLOCKED)
    assert "is loopback" in str(info.value)
    if target not in ("127.0.0.1", "::1"):
        assert f"{target} resolves to" in str(info.value)
    assert http_receiver.requests == []
    assert ipv6_listener.connections == 0


@pytest.mark.parametrize("allowlist", [["127.0.0.1"], ["127.0.0.0/8"], ["10.0.0.0/8", "127.0.0.1"]])
async def test_allowlisted_address_is_called(
    journey_env: JourneyEnv, http_receiver: HttpReceiver, allowlist: list[str]
) -> None:
    settings = webhook_settings(journey_env.settings, allowlist=allowlist)
    async with webhook_activities(settings) as hook:
        result = await call(hook, request(http_receiver.url("/crm")))
    assert result.status == 200
    assert len(http_receiver.requests) == 1


@needs_hosts_name
async def test_allowlisted_name_goes_to_the_checked_address_with_its_host_header(
    journey_env: JourneyEnv, http_receiver: HttpReceiver
) -> None:
    assert HOSTS_NAME is not None
    settings = webhook_settings(journey_env.settings, allowlist=[HOSTS_NAME.upper()])
    async with webhook_activities(settings) as hook:
        result = await call(hook, request(f"http://{HOSTS_NAME}:{http_receiver.port}/crm"))
    assert result.status == 200
    [received] = http_receiver.requests
    assert received.headers["host"] == f"{HOSTS_NAME}:{http_receiver.port}"


async def test_allowlisted_ipv6_loopback_is_called(
    journey_env: JourneyEnv, ipv6_listener: LoopbackListener
) -> None:
    settings = webhook_settings(journey_env.settings, allowlist=["::1"])
    async with webhook_activities(settings) as hook:
        result = await call(hook, request(f"http://[::1]:{ipv6_listener.port}/crm"))
    assert result.status == 200 and result.body == "ok"
    assert ipv6_listener.hosts == [f"[::1]:{ipv6_listener.port}"]


async def test_allowlisting_another_range_does_not_open_loopback(
    journey_env: JourneyEnv, http_receiver: HttpReceiver
) -> None:
    settings = webhook_settings(journey_env.settings, allowlist=["10.0.0.0/8", "hooks.internal"])
    async with webhook_activities(settings) as hook:
        with pytest.raises(ApplicationError) as info:
            await call(hook, request(http_receiver.url("/crm")))
    assert_non_retryable(info, WEBHOOK_BLOCKED)
    assert http_receiver.requests == []


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://127.0.0.1/x", "gopher://127.0.0.1/"])
async def test_only_http_and_https_are_allowed(journey_env: JourneyEnv, url: str) -> None:
    async with webhook_activities(webhook_settings(journey_env.settings)) as hook:
        with pytest.raises(ApplicationError) as info:
            await call(hook, request(url))
    assert_non_retryable(info, WEBHOOK_BLOCKED)
    assert "only http and https" in str(info.value)


@pytest.mark.parametrize(
    ("address", "rule"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("169.254.169.254", "link-local"),
        ("10.1.2.3", "private"),
        ("172.31.255.255", "private"),
        ("192.168.0.1", "private"),
        ("100.127.255.254", "carrier-grade NAT (100.64.0.0/10)"),
        ("fc00::1", "unique-local (fc00::/7)"),
        ("fe80::1", "link-local"),
        ("ff02::1", "multicast"),
        ("::", "unspecified"),
        ("240.0.0.1", "reserved"),
        ("192.0.2.10", "private"),  # documentation range: ipaddress counts it private
        ("::ffff:10.0.0.1", "private (embeds 10.0.0.1)"),
        ("64:ff9b::a9fe:a9fe", "link-local (embeds 169.254.169.254)"),  # NAT64
        ("2002:7f00:1::", "loopback (embeds 127.0.0.1)"),  # 6to4
    ],
)
def test_block_reason_names_the_rule(address: str, rule: str) -> None:
    assert block_reason(ipaddress.ip_address(address)) == rule


@pytest.mark.parametrize("address", ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_pass(address: str) -> None:
    assert block_reason(ipaddress.ip_address(address)) is None


def test_allowlist_matches_names_case_insensitively_and_all_addresses_by_cidr() -> None:
    allowlist = Allowlist(["Hooks.Internal.", "10.0.0.0/8", "::1", " "])
    assert allowlist.allows_name("hooks.internal")
    assert not allowlist.allows_name("other.internal")
    v4, v6 = ipaddress.ip_address("10.9.8.7"), ipaddress.ip_address("::1")
    assert allowlist.allows_addresses([v4, v6])
    assert not allowlist.allows_addresses([v4, ipaddress.ip_address("192.168.0.1")])

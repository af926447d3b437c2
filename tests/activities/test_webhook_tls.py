"""https webhooks pinned to the checked address still speak TLS to the *name*.

The SSRF guard sends the request to the IP it checked, so the TLS layer must be told the
original host: as SNI, and as the name the certificate is verified against. A real TLS server
on 127.0.0.1 with a certificate for an /etc/hosts name (made with the openssl CLI) shows both:
the server sees the name in SNI and Host, and a certificate for another name is refused.
"""

from __future__ import annotations

import json
import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.exceptions import ApplicationError

from tests.activities.webhook_helpers import (
    HOSTS_NAME,
    call,
    request,
    webhook_activities,
    webhook_settings,
)
from tests.harness.env import JourneyEnv
from tests.harness.needs import needs

pytestmark = [
    pytest.mark.skipif(
        HOSTS_NAME is None, reason=needs("hosts-name", "no /etc/hosts name for a loopback address")
    ),
    pytest.mark.skipif(shutil.which("openssl") is None, reason=needs("openssl", "no openssl CLI")),
]


class TlsReceiver:
    """An https server on 127.0.0.1 recording each request's SNI name and Host header."""

    def __init__(self, cert: Path, key: Path) -> None:
        self.sni: list[str | None] = []
        self.hosts: list[str] = []
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        context.sni_callback = lambda _sock, name, _ctx: self.sni.append(name)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.hosts.append(self.headers.get("Host", ""))
                body = json.dumps({"ok": True}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: tests read `sni` and `hosts`."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


def make_certificate(directory: Path, name: str) -> tuple[Path, Path]:
    """A self-signed certificate (its own CA) valid for DNS name `name` only."""
    cert, key = directory / f"{name}.crt", directory / f"{name}.key"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-subj",
            f"/CN={name}",
            "-addext",
            f"subjectAltName=DNS:{name}",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    assert HOSTS_NAME is not None
    return make_certificate(tmp_path, HOSTS_NAME)


@pytest.fixture
def tls_receiver(certificate: tuple[Path, Path]) -> Iterator[TlsReceiver]:
    receiver = TlsReceiver(*certificate)
    yield receiver
    receiver.stop()


def client_trusting(cert: Path) -> httpx.AsyncClient:
    return httpx.AsyncClient(verify=ssl.create_default_context(cafile=str(cert)))


async def test_https_uses_the_name_for_sni_host_and_certificate(
    journey_env: JourneyEnv, tls_receiver: TlsReceiver, certificate: tuple[Path, Path]
) -> None:
    settings = webhook_settings(journey_env.settings, allowlist=[str(HOSTS_NAME)])
    url = f"https://{HOSTS_NAME}:{tls_receiver.port}/hook"
    async with (
        client_trusting(certificate[0]) as client,
        webhook_activities(settings, client) as hook,
    ):
        result = await call(hook, request(url))
    assert result.status == 200 and result.body == {"ok": True}
    assert tls_receiver.sni == [HOSTS_NAME]
    assert tls_receiver.hosts == [f"{HOSTS_NAME}:{tls_receiver.port}"]


async def test_certificate_for_another_name_is_refused(
    journey_env: JourneyEnv, tls_receiver: TlsReceiver, tmp_path: Path
) -> None:
    other_cert, _ = make_certificate(tmp_path, "other.invalid")
    settings = webhook_settings(journey_env.settings, allowlist=[str(HOSTS_NAME)])
    url = f"https://{HOSTS_NAME}:{tls_receiver.port}/hook"
    async with client_trusting(other_cert) as client, webhook_activities(settings, client) as hook:
        with pytest.raises(ApplicationError) as info:
            await call(hook, request(url))
    assert "CERTIFICATE_VERIFY_FAILED" in str(info.value)
    assert tls_receiver.hosts == []

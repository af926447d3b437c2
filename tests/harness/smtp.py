"""A real SMTP server (aiosmtpd) that captures every message the code under test sends.

Mail is asserted on as the receiving server saw it: envelope sender and recipients plus the
message parsed back into an `email.message.EmailMessage`, so headers, encodings and multipart
structure are checked the way a real relay would see them. The server can also refuse the next
recipients with a chosen reply code, which is how tests drive permanent (5xx) and transient (4xx)
delivery failures without mocking the SMTP client.

The aiosmtpd Controller runs its own event loop in a thread, so captured state is guarded by a
lock and `wait_for` polls it from the test's loop.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from tests.harness.ports import free_port


@dataclass(frozen=True)
class CapturedMail:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    raw: bytes
    received_at: float = field(default_factory=time.time)

    @property
    def subject(self) -> str:
        return str(self.message["Subject"] or "")

    def body(self, subtype: str = "plain") -> str:
        """The text/<subtype> part's decoded content ("" if the message has none)."""
        part = self.message.get_body(preferencelist=(subtype,))
        return "" if part is None else str(part.get_content())


class SmtpCapture:
    """aiosmtpd handler + controller: records accepted mail and rejects recipients on request."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = free_port(host)
        self._lock = threading.Lock()
        self._messages: list[CapturedMail] = []
        self._rejected: list[str] = []
        self._logins: list[tuple[str, str]] = []
        self._reject_remaining = 0
        self._reject_reply = ""
        # Any credentials are accepted (and recorded) so the AUTH code path can be exercised
        # without TLS; clients that do not log in are accepted too.
        self._controller = Controller(
            self,
            hostname=host,
            port=self.port,
            enable_SMTPUTF8=True,
            authenticator=self._authenticate,
            auth_require_tls=False,
        )

    # ---- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    def clear(self) -> None:
        """Forget captured mail, logins and pending rejections (done before every test)."""
        with self._lock:
            self._messages.clear()
            self._rejected.clear()
            self._logins.clear()
            self._reject_remaining = 0

    # ---- test API --------------------------------------------------------------------------

    @property
    def messages(self) -> list[CapturedMail]:
        with self._lock:
            return list(self._messages)

    @property
    def rejected(self) -> list[str]:
        """Recipient addresses refused because of `reject_recipients`."""
        with self._lock:
            return list(self._rejected)

    @property
    def logins(self) -> list[tuple[str, str]]:
        with self._lock:
            return list(self._logins)

    def reject_recipients(
        self, count: int = 1, code: int = 550, message: str = "5.1.1 Mailbox unavailable"
    ) -> None:
        """Refuse the next `count` RCPT TO commands with `code` (550: permanent, 451: transient)."""
        if not 400 <= code <= 599:
            raise ValueError(f"rejection code must be 4xx or 5xx, got {code}")
        with self._lock:
            self._reject_remaining = count
            self._reject_reply = f"{code} {message}"

    # The timeout argument is part of the harness API (ASYNC109 prefers asyncio.timeout).
    async def wait_for(
        self,
        count: int = 1,
        timeout: float = 10.0,
    ) -> list[CapturedMail]:
        """Wait until at least `count` messages were accepted; returns all captured messages."""
        deadline = time.monotonic() + timeout
        while True:
            captured = self.messages
            if len(captured) >= count:
                return captured
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"expected {count} message(s) on {self.host}:{self.port} within {timeout}s, "
                    f"got {len(captured)}; rejected recipients: {self.rejected}"
                )
            await asyncio.sleep(0.02)

    # ---- aiosmtpd hooks (run on the controller's thread) -----------------------------------

    async def handle_RCPT(
        self,
        _server: SMTP,
        _session: Session,
        envelope: Envelope,
        address: str,
        _rcpt_options: list[str],
    ) -> str:
        with self._lock:
            if self._reject_remaining > 0:
                self._reject_remaining -= 1
                self._rejected.append(address)
                return self._reject_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, _server: SMTP, _session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        parsed = BytesParser(policy=default_policy).parsebytes(raw)
        assert isinstance(parsed, EmailMessage)
        mail = CapturedMail(
            mail_from=str(envelope.mail_from),
            rcpt_tos=list(envelope.rcpt_tos),
            message=parsed,
            raw=raw,
        )
        with self._lock:
            self._messages.append(mail)
        return "250 Message accepted for delivery"

    def _authenticate(
        self, _server: SMTP, _session: Session, _envelope: Envelope, _mechanism: str, auth_data: Any
    ) -> AuthResult:
        if isinstance(auth_data, LoginPassword):
            with self._lock:
                self._logins.append((auth_data.login.decode(), auth_data.password.decode()))
        return AuthResult(success=True)


@pytest.fixture(scope="session")
def _smtp_capture_session() -> Iterator[SmtpCapture]:
    capture = SmtpCapture()
    capture.start()
    try:
        yield capture
    finally:
        capture.stop()


@pytest.fixture
def smtp_server(_smtp_capture_session: SmtpCapture) -> Iterator[SmtpCapture]:
    """The session's SMTP server with nothing captured and no rejections pending."""
    _smtp_capture_session.clear()
    yield _smtp_capture_session
    _smtp_capture_session.clear()

"""What the send-email tests share: settings, a migrated ledger, request builders, TLS servers.

The ledger runs on a real SQLite file migrated to head, exactly as the worker's does. The TLS
servers are the harness's aiosmtpd capture with a certificate for 127.0.0.1 issued by a
throwaway CA (trustme); the client is made to trust that CA through OpenSSL's `SSL_CERT_FILE`,
so the production code path (a default, verifying TLS context) is what the tests exercise.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlmodel import Session as DbSession
from sqlmodel import select

from journey.contracts.actions import SendEmailInput
from journey.core.config import Settings
from journey.core.db.engine import create_db_engine, make_session_factory
from journey.core.db.models.deliveries import Delivery
from journey.core.ledger import Ledger
from tests.activities.helpers import make_context, make_meta
from tests.harness.database import migrated_sqlite
from tests.harness.env import build_settings
from tests.harness.smtp import SmtpCapture


def email_settings(tmp_path: Path, smtp: SmtpCapture, **overrides: Any) -> Settings:
    """Settings that point only at `smtp`; Temporal and Kafka are unused by these tests."""
    values: dict[str, Any] = {
        "data_dir": tmp_path,
        "temporal_address": "127.0.0.1:1",
        "task_queue": "unused",
        "kafka_bootstrap": "127.0.0.1:1",
        "smtp_host": smtp.host,
        "smtp_port": smtp.port,
        "smtp_from": "Journey <journey@example.test>",
    }
    values.update(overrides)
    return build_settings(**values)


class LedgerDb:
    """A ledger on a freshly migrated SQLite file, plus a way to read its rows in full."""

    def __init__(self, url: str) -> None:
        migrated_sqlite(url)
        self.engine = create_db_engine(url)
        self.session_factory = make_session_factory(self.engine)
        self.ledger = Ledger(self.session_factory)

    def rows(self) -> list[Delivery]:
        with DbSession(self.engine) as session:
            return list(session.exec(select(Delivery)).all())


@contextmanager
def ledger_db(tmp_path: Path) -> Iterator[LedgerDb]:
    db = LedgerDb(f"sqlite:///{(tmp_path / 'ledger.db').as_posix()}")
    try:
        yield db
    finally:
        db.engine.dispose()


def email_request(**overrides: Any) -> SendEmailInput:
    """A valid send for user u1 (Ada); each call is a new effect unless `meta` is passed."""
    values: dict[str, Any] = {
        "meta": make_meta(),
        "to": "{{ user.email }}",
        "subject": "Welcome, {{ user.attributes.name }}",
        "text": "Hi {{ user.attributes.name }}, you are on {{ user.attributes.plan }}.",
        "html": "<p>Hi <b>{{ user.attributes.name }}</b></p>",
        "context": make_context(),
    }
    values.update(overrides)
    return SendEmailInput.model_validate(values)


class ThrowawayCA:
    """A throwaway CA and a server certificate for 127.0.0.1 signed by it."""

    def __init__(self, directory: Path) -> None:
        self._ca = trustme.CA()
        self.ca_file = directory / "test-ca.pem"
        self._ca.cert_pem.write_to_path(str(self.ca_file))
        self._server_cert = self._ca.issue_cert("127.0.0.1")

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._server_cert.configure_cert(context)
        return context


class TlsSmtpCapture(SmtpCapture):
    """The harness capture server speaking STARTTLS (`implicit=False`) or implicit TLS.

    Records the TLS version each accepted message arrived over. With STARTTLS, AUTH is refused
    until the connection is encrypted (aiosmtpd's `auth_require_tls`), so a recorded login
    proves the credentials travelled encrypted. aiosmtpd does not count an implicit-TLS
    connection as encrypted for AUTH, so that server allows AUTH on its (TLS-only) socket.
    """

    def __init__(self, context: ssl.SSLContext, *, implicit: bool) -> None:
        super().__init__()
        self.tls_versions: list[str | None] = []
        tls: dict[str, Any] = (
            {"ssl_context": context, "auth_require_tls": False}
            if implicit
            else {"tls_context": context, "require_starttls": True, "auth_require_tls": True}
        )
        self._controller = Controller(
            self,
            hostname=self.host,
            port=self.port,
            authenticator=self._authenticate,
            **tls,
        )

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        ssl_object = server.transport.get_extra_info("ssl_object") if server.transport else None
        with self._lock:
            self.tls_versions.append(None if ssl_object is None else ssl_object.version())
        return await super().handle_DATA(server, session, envelope)

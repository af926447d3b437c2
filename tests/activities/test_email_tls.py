"""send_email over TLS to real aiosmtpd servers: STARTTLS with AUTH, implicit TLS, and a relay
whose certificate the client does not trust.

The certificates come from a throwaway CA made per test; the client trusts it only through
OpenSSL's `SSL_CERT_FILE`, so the code under test uses its normal verifying TLS context.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.email import EmailActivities
from tests.activities.email_support import (
    LedgerDb,
    ThrowawayCA,
    TlsSmtpCapture,
    email_request,
    email_settings,
    ledger_db,
)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[LedgerDb]:
    with ledger_db(tmp_path) as db:
        yield db


@pytest.fixture
def ca(tmp_path: Path) -> ThrowawayCA:
    return ThrowawayCA(tmp_path)


@pytest.fixture
def trusting_client(ca: ThrowawayCA, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(ca.ca_file))


def _serve(ca: ThrowawayCA, *, implicit: bool) -> Iterator[TlsSmtpCapture]:
    server = TlsSmtpCapture(ca.server_context(), implicit=implicit)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def starttls_server(ca: ThrowawayCA) -> Iterator[TlsSmtpCapture]:
    yield from _serve(ca, implicit=False)


@pytest.fixture
def implicit_tls_server(ca: ThrowawayCA) -> Iterator[TlsSmtpCapture]:
    yield from _serve(ca, implicit=True)


CREDENTIALS = {"smtp_username": "journey", "smtp_password": SecretStr("s3cret")}


@pytest.mark.usefixtures("trusting_client")
async def test_starttls_with_auth(
    starttls_server: TlsSmtpCapture, tmp_path: Path, db: LedgerDb
) -> None:
    settings = email_settings(tmp_path, starttls_server, smtp_starttls=True, **CREDENTIALS)
    result = await ActivityEnvironment().run(
        EmailActivities(settings, db.ledger).send_email, email_request()
    )
    assert result.outcome == "sent"
    [mail] = await starttls_server.wait_for(1)
    assert mail.subject == "Welcome, Ada"
    # The server refuses AUTH before STARTTLS, so this login travelled encrypted.
    assert starttls_server.logins == [("journey", "s3cret")]
    [version] = starttls_server.tls_versions
    assert version is not None and version.startswith("TLS")


@pytest.mark.usefixtures("trusting_client")
async def test_implicit_tls_with_auth(
    implicit_tls_server: TlsSmtpCapture, tmp_path: Path, db: LedgerDb
) -> None:
    settings = email_settings(tmp_path, implicit_tls_server, smtp_ssl=True, **CREDENTIALS)
    result = await ActivityEnvironment().run(
        EmailActivities(settings, db.ledger).send_email, email_request()
    )
    assert result.outcome == "sent"
    await implicit_tls_server.wait_for(1)
    assert implicit_tls_server.logins == [("journey", "s3cret")]
    [version] = implicit_tls_server.tls_versions
    assert version is not None and version.startswith("TLS")


async def test_untrusted_certificate_is_refused_and_retryable(
    starttls_server: TlsSmtpCapture, tmp_path: Path, db: LedgerDb
) -> None:
    # No trusting_client: the throwaway CA is unknown, so verification must fail.
    settings = email_settings(tmp_path, starttls_server, smtp_starttls=True, **CREDENTIALS)
    with pytest.raises(Exception) as info:
        await ActivityEnvironment().run(
            EmailActivities(settings, db.ledger).send_email, email_request()
        )
    assert not isinstance(info.value, ApplicationError), info.value
    assert "certificate" in str(info.value).lower()
    assert starttls_server.messages == []
    assert starttls_server.logins == []
    assert db.rows() == []

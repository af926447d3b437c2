"""send_email against the real aiosmtpd capture server and a real migrated ledger database:
parts, headers, escaping, suppression, the effect ledger and SMTP error classes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import aiosmtplib
import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.email import EmailActivities, message_id_for
from journey.contracts.actions import EMAIL_REJECTED, TEMPLATE_ERROR
from tests.activities.email_support import LedgerDb, email_request, email_settings, ledger_db
from tests.activities.helpers import assert_non_retryable, make_context
from tests.harness.ports import free_port
from tests.harness.smtp import SmtpCapture

request = email_request


@pytest.fixture
def db(tmp_path: Path) -> Iterator[LedgerDb]:
    with ledger_db(tmp_path) as db:
        yield db


@pytest.fixture
def email(smtp_server: SmtpCapture, tmp_path: Path, db: LedgerDb) -> EmailActivities:
    return EmailActivities(email_settings(tmp_path, smtp_server), db.ledger)


async def test_sends_multipart_mail_with_deterministic_headers(
    email: EmailActivities, smtp_server: SmtpCapture
) -> None:
    send = request(reply_to="support@example.test")
    result = await ActivityEnvironment().run(email.send_email, send)

    assert result.outcome == "sent"
    assert result.recipients == ["ada@example.com"]
    assert result.message_id == message_id_for(send.meta.effect_key)
    [mail] = await smtp_server.wait_for(1)
    assert mail.rcpt_tos == ["ada@example.com"]
    assert mail.mail_from == "journey@example.test"
    assert mail.subject == "Welcome, Ada"
    assert mail.message["Message-ID"] == result.message_id
    assert mail.message["X-Journey-Effect-Key"] == send.meta.effect_key
    assert mail.message["Reply-To"] == "support@example.test"
    # No unsubscribe URL is configured, so no List-Unsubscribe headers.
    assert mail.message["List-Unsubscribe"] is None
    assert mail.message["List-Unsubscribe-Post"] is None
    assert mail.message.get_content_type() == "multipart/alternative"
    assert mail.body("plain").strip() == "Hi Ada, you are on pro."
    assert mail.body("html").strip() == "<p>Hi <b>Ada</b></p>"


async def test_same_effect_sends_once_and_returns_the_recorded_result(
    email: EmailActivities, smtp_server: SmtpCapture, db: LedgerDb
) -> None:
    send = request()
    first = await ActivityEnvironment().run(email.send_email, send)
    second = await ActivityEnvironment().run(email.send_email, send)
    other = await ActivityEnvironment().run(email.send_email, request())

    assert second == first
    assert first.message_id != other.message_id
    mails = await smtp_server.wait_for(2)
    assert [m.message["Message-ID"] for m in mails] == [first.message_id, other.message_id]
    rows = {row.key: row for row in db.rows()}
    row = rows[send.meta.effect_key]
    assert (row.kind, row.outcome, row.result) == ("email", "delivered", first.model_dump())
    assert (row.workflow_id, row.run_id, row.node_id, row.user_id) == (
        send.meta.workflow_id,
        send.meta.run_id,
        send.meta.node_id,
        send.meta.user_id,
    )


async def test_list_unsubscribe_headers_when_configured(
    smtp_server: SmtpCapture, tmp_path: Path, db: LedgerDb
) -> None:
    settings = email_settings(
        tmp_path,
        smtp_server,
        unsubscribe_url_template="https://example.test/u?user={user_id}&key={effect_key}",
    )
    send = request(meta=request().meta.model_copy(update={"user_id": "u 1/&x"}))
    await ActivityEnvironment().run(EmailActivities(settings, db.ledger).send_email, send)
    [mail] = await smtp_server.wait_for(1)
    key = send.meta.effect_key.replace(":", "%3A")
    # Long values are folded onto a continuation line (RFC 5322, allowed by RFC 2369).
    assert mail.message["List-Unsubscribe"].strip() == (
        f"<https://example.test/u?user=u%201%2F%26x&key={key}>"
    )
    assert mail.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


async def test_user_data_is_escaped_in_html_but_not_in_text(
    email: EmailActivities, smtp_server: SmtpCapture
) -> None:
    context = make_context(
        user={
            "id": "u1",
            "email": "ada@example.com",
            "current_lifecycle_stage": "Acquisition",
            "attributes": {"name": '<img src=x onerror="alert(1)">', "plan": "pro"},
        }
    )
    await ActivityEnvironment().run(email.send_email, request(context=context))
    [mail] = await smtp_server.wait_for(1)
    html = mail.body("html")
    assert "<img" not in html
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in html
    assert "<p>Hi <b>" in html
    assert '<img src=x onerror="alert(1)">' in mail.body("plain")


async def test_text_only_and_html_only_mails(
    email: EmailActivities, smtp_server: SmtpCapture
) -> None:
    await ActivityEnvironment().run(email.send_email, request(html=None))
    await ActivityEnvironment().run(email.send_email, request(text=None))
    text_only, html_only = await smtp_server.wait_for(2)
    assert text_only.message.get_content_type() == "text/plain"
    assert html_only.message.get_content_type() == "text/html"


@pytest.mark.parametrize("to", ["", "   ", "{{ vars.email }}", "not-an-address", "a@b@c"])
async def test_empty_or_invalid_recipient_is_suppressed_and_recorded(
    email: EmailActivities, smtp_server: SmtpCapture, db: LedgerDb, to: str
) -> None:
    context = make_context(vars={"email": ""})
    send = request(to=to, context=context)
    result = await ActivityEnvironment().run(email.send_email, send)
    assert result.outcome == "suppressed"
    assert result.recipients == []
    assert result.reason
    assert smtp_server.messages == []
    [row] = db.rows()
    assert (row.key, row.outcome, row.result) == (
        send.meta.effect_key,
        "suppressed",
        result.model_dump(),
    )


@pytest.mark.parametrize("opt_out", [True, "yes", 1])
async def test_opted_out_user_is_suppressed_recorded_and_not_mailed(
    email: EmailActivities, smtp_server: SmtpCapture, db: LedgerDb, opt_out: object
) -> None:
    context = make_context(
        user={
            "id": "u1",
            "email": "ada@example.com",
            "current_lifecycle_stage": "Retention",
            "attributes": {"name": "Ada", "email_opt_out": opt_out},
        }
    )
    send = request(context=context)
    result = await ActivityEnvironment().run(email.send_email, send)
    assert result.outcome == "suppressed"
    assert result.reason is not None and "opted out" in result.reason
    [row] = db.rows()
    assert (row.kind, row.outcome) == ("email", "suppressed")
    # A retry of the same effect returns the recorded suppression; nothing is ever sent.
    assert await ActivityEnvironment().run(email.send_email, send) == result
    assert smtp_server.messages == []


async def test_opt_out_attribute_is_a_setting(
    smtp_server: SmtpCapture, tmp_path: Path, db: LedgerDb
) -> None:
    settings = email_settings(tmp_path, smtp_server, email_opt_out_attribute="no_mail")
    email = EmailActivities(settings, db.ledger)
    user = {"id": "u1", "email": "ada@example.com", "current_lifecycle_stage": "Retention"}
    opted_out = make_context(user={**user, "attributes": {"no_mail": True}})
    default_name = make_context(user={**user, "attributes": {"email_opt_out": False}})
    text = {"subject": "Hi", "text": "Hi", "html": None}
    first = await ActivityEnvironment().run(email.send_email, request(context=opted_out, **text))
    second = await ActivityEnvironment().run(
        email.send_email, request(context=default_name, **text)
    )
    assert (first.outcome, second.outcome) == ("suppressed", "sent")
    assert len(await smtp_server.wait_for(1)) == 1


async def test_permanent_recipient_rejection_is_non_retryable_and_not_recorded(
    email: EmailActivities, smtp_server: SmtpCapture, db: LedgerDb
) -> None:
    smtp_server.reject_recipients(code=550)
    with pytest.raises(ApplicationError) as info:
        await ActivityEnvironment().run(email.send_email, request())
    assert_non_retryable(info, EMAIL_REJECTED)
    assert "550" in str(info.value)
    assert smtp_server.rejected == ["ada@example.com"]
    assert db.rows() == []


async def test_transient_recipient_rejection_is_retryable(
    email: EmailActivities, smtp_server: SmtpCapture
) -> None:
    smtp_server.reject_recipients(code=451, message="4.7.1 Try again later")
    send = request()
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as info:
        await ActivityEnvironment().run(email.send_email, send)
    assert info.value.recipients[0].code == 451
    # The retry (a fresh attempt of the same effect) goes through: nothing was recorded.
    result = await ActivityEnvironment().run(email.send_email, send)
    assert result.outcome == "sent"
    assert len(await smtp_server.wait_for(1)) == 1


async def test_unreachable_relay_is_retryable(
    smtp_server: SmtpCapture, tmp_path: Path, db: LedgerDb
) -> None:
    settings = email_settings(tmp_path, smtp_server, smtp_port=free_port())
    with pytest.raises(aiosmtplib.SMTPConnectError):
        await ActivityEnvironment().run(EmailActivities(settings, db.ledger).send_email, request())
    assert db.rows() == []


@pytest.mark.parametrize(
    "fields",
    [
        {"subject": "Hi {{ user.attributes.nickname }}"},
        # Each a render cap: range size, output size (the setting is lowered below).
        {
            "text": "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}"
            "{% endfor %}"
        },
        {"html": "{% for i in range(1000) %}<p>{{ user.attributes.name }}</p>{% endfor %}"},
    ],
)
async def test_template_errors_and_render_caps_are_non_retryable(
    smtp_server: SmtpCapture, tmp_path: Path, db: LedgerDb, fields: dict[str, str]
) -> None:
    settings = email_settings(tmp_path, smtp_server, template_max_output_chars=1_000)
    email = EmailActivities(settings, db.ledger)
    with pytest.raises(ApplicationError) as info:
        await ActivityEnvironment().run(email.send_email, request(**fields))
    assert_non_retryable(info, TEMPLATE_ERROR)
    assert smtp_server.messages == []
    assert db.rows() == []


def test_implicit_tls_and_starttls_are_exclusive(
    smtp_server: SmtpCapture, tmp_path: Path, db: LedgerDb
) -> None:
    settings = email_settings(tmp_path, smtp_server, smtp_ssl=True, smtp_starttls=True)
    with pytest.raises(ValueError, match="mutually exclusive"):
        EmailActivities(settings, db.ledger)

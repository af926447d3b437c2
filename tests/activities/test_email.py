"""send_email against the real aiosmtpd capture server: parts, headers, escaping, SMTP errors."""

from __future__ import annotations

from pathlib import Path

import aiosmtplib
import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.contracts import EMAIL_REJECTED, TEMPLATE_ERROR, SendEmailInput
from activities.email import EmailActivities, message_id_for
from journey.config import Settings
from tests.activities.helpers import assert_non_retryable, make_context, make_meta
from tests.harness.env import build_settings
from tests.harness.smtp import SmtpCapture


@pytest.fixture
def email(smtp_server: SmtpCapture, tmp_path: Path) -> EmailActivities:
    settings: Settings = build_settings(
        data_dir=tmp_path,
        temporal_address="127.0.0.1:1",  # unused: only SMTP settings matter here
        task_queue="unused",
        kafka_bootstrap="127.0.0.1:1",
        smtp_host=smtp_server.host,
        smtp_port=smtp_server.port,
        smtp_from="Journey <journey@example.test>",
    )
    return EmailActivities(settings)


def request(**overrides: object) -> SendEmailInput:
    values: dict[str, object] = {
        "meta": make_meta(),
        "to": "{{ user.email }}",
        "subject": "Welcome, {{ user.attributes.name }}",
        "text": "Hi {{ user.attributes.name }}, you are on {{ user.attributes.plan }}.",
        "html": "<p>Hi <b>{{ user.attributes.name }}</b></p>",
        "context": make_context(),
    }
    values.update(overrides)
    return SendEmailInput.model_validate(values)


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
    assert mail.message.get_content_type() == "multipart/alternative"
    assert mail.body("plain").strip() == "Hi Ada, you are on pro."
    assert mail.body("html").strip() == "<p>Hi <b>Ada</b></p>"


async def test_message_id_is_the_same_for_every_attempt_of_one_effect(
    email: EmailActivities, smtp_server: SmtpCapture
) -> None:
    meta = make_meta()
    first = await ActivityEnvironment().run(email.send_email, request(meta=meta))
    second = await ActivityEnvironment().run(email.send_email, request(meta=meta))
    other = await ActivityEnvironment().run(email.send_email, request())
    mails = await smtp_server.wait_for(3)
    assert first.message_id == second.message_id != other.message_id
    assert [m.message["Message-ID"] for m in mails[:2]] == [first.message_id] * 2


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
async def test_empty_or_invalid_recipient_is_suppressed(
    email: EmailActivities, smtp_server: SmtpCapture, to: str
) -> None:
    context = make_context(vars={"email": ""})
    result = await ActivityEnvironment().run(email.send_email, request(to=to, context=context))
    assert result.outcome == "suppressed"
    assert result.recipients == []
    assert result.reason
    assert smtp_server.messages == []


async def test_permanent_recipient_rejection_is_non_retryable(
    email: EmailActivities, smtp_server: SmtpCapture
) -> None:
    smtp_server.reject_recipients(code=550)
    with pytest.raises(ApplicationError) as info:
        await ActivityEnvironment().run(email.send_email, request())
    assert_non_retryable(info, EMAIL_REJECTED)
    assert "550" in str(info.value)
    assert smtp_server.rejected == ["ada@example.com"]


async def test_transient_recipient_rejection_is_retryable(
    email: EmailActivities, smtp_server: SmtpCapture
) -> None:
    smtp_server.reject_recipients(code=451, message="4.7.1 Try again later")
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as info:
        await ActivityEnvironment().run(email.send_email, request())
    assert info.value.recipients[0].code == 451
    # The retry (a fresh attempt) goes through.
    result = await ActivityEnvironment().run(email.send_email, request())
    assert result.outcome == "sent"


async def test_unreachable_relay_is_retryable(tmp_path: Path) -> None:
    from tests.harness.ports import free_port

    settings = build_settings(
        data_dir=tmp_path,
        temporal_address="127.0.0.1:1",
        task_queue="unused",
        kafka_bootstrap="127.0.0.1:1",
        smtp_host="127.0.0.1",
        smtp_port=free_port(),
    )
    with pytest.raises(aiosmtplib.SMTPConnectError):
        await ActivityEnvironment().run(EmailActivities(settings).send_email, request())


async def test_template_error_is_non_retryable(
    email: EmailActivities, smtp_server: SmtpCapture
) -> None:
    with pytest.raises(ApplicationError) as info:
        await ActivityEnvironment().run(
            email.send_email, request(subject="Hi {{ user.attributes.nickname }}")
        )
    assert_non_retryable(info, TEMPLATE_ERROR)
    assert smtp_server.messages == []

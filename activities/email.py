"""The send-email action: render a message and hand it to the configured SMTP relay.

Retries decide how this behaves, so failures are classified by the SMTP reply: a 5xx on the
sender, a recipient or the data is permanent (the same mail would be refused again), so it
becomes a non-retryable `EmailRejected`; 4xx replies and connection problems are transient and
propagate unchanged, letting the activity's retry policy try again.

A retry after a lost acknowledgement can deliver twice; the deterministic `Message-ID` (derived
from the effect key) and the `X-Journey-Effect-Key` header let receivers and mail tooling
recognise the duplicate. A recipient that renders empty or is not an address is *suppressed*:
the user simply has no usable email, which is a normal outcome for a journey, not an error.
"""

from __future__ import annotations

import hashlib
import re
from email.message import EmailMessage
from email.utils import formatdate, parseaddr

import aiosmtplib
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.contracts import EMAIL_REJECTED, SEND_EMAIL, SendEmailInput, SendEmailResult
from activities.rendering import render_html, render_text
from journey.config import Settings

__all__ = ["EmailActivities", "is_valid_address", "message_id_for"]

# Deliberately simple: one local part, one domain, no spaces or angle brackets. Full RFC 5322
# validation is the relay's job; this only filters what can never be delivered.
_ADDRESS = re.compile(r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+$")
SMTP_TIMEOUT_SECONDS = 30.0


def message_id_for(effect_key: str) -> str:
    """The same Message-ID for every attempt of one effect, so duplicates are recognisable."""
    return f"<{hashlib.sha256(effect_key.encode()).hexdigest()[:32]}@journey>"


def is_valid_address(value: str) -> str | None:
    """The bare address in `value` ("a@b" or "Name <a@b>"), or None if it is not one."""
    if not value.strip():
        return None
    _, address = parseaddr(value)
    return address if address and _ADDRESS.match(address) else None


class EmailActivities:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    @activity.defn(name=SEND_EMAIL)
    async def send_email(self, request: SendEmailInput) -> SendEmailResult:
        context = request.context
        message_id = message_id_for(request.meta.effect_key)
        to = render_text(request.to, context).strip()
        recipient = is_valid_address(to)
        if recipient is None:
            reason = "empty recipient" if not to else f"invalid recipient {to!r}"
            activity.logger.info("email suppressed: %s", reason)
            return SendEmailResult(outcome="suppressed", message_id=message_id, reason=reason)

        message = self._build_message(request, to=to, message_id=message_id)
        sender = parseaddr(str(message["From"]))[1] or self._settings.smtp_from
        await self._send(message, sender=sender, recipient=recipient)
        return SendEmailResult(outcome="sent", message_id=message_id, recipients=[recipient])

    def _build_message(self, request: SendEmailInput, *, to: str, message_id: str) -> EmailMessage:
        context = request.context
        message = EmailMessage()
        from_address = request.from_address or self._settings.smtp_from
        message["From"] = render_text(from_address, context).strip()
        message["To"] = to
        # Header values must be a single line; a rendered newline would be a header injection.
        message["Subject"] = " ".join(render_text(request.subject, context).splitlines())
        if request.reply_to:
            message["Reply-To"] = render_text(request.reply_to, context).strip()
        message["Message-ID"] = message_id
        message["Date"] = formatdate(localtime=False, usegmt=True)
        message["X-Journey-Effect-Key"] = request.meta.effect_key
        text = render_text(request.text, context) if request.text is not None else None
        html = render_html(request.html, context) if request.html is not None else None
        if html is None:
            message.set_content(text or "")
        elif text is None:
            message.set_content(html, subtype="html")
        else:
            message.set_content(text)
            message.add_alternative(html, subtype="html")
        return message

    async def _send(self, message: EmailMessage, *, sender: str, recipient: str) -> None:
        settings = self._settings
        password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
        try:
            await aiosmtplib.send(
                message,
                sender=sender,
                recipients=[recipient],
                hostname=settings.resolved_smtp_host,
                port=settings.smtp_port,
                username=settings.smtp_username or None,
                password=password,
                use_tls=settings.smtp_ssl,
                start_tls=settings.smtp_starttls,
                timeout=SMTP_TIMEOUT_SECONDS,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            permanent = [r for r in exc.recipients if r.code >= 500]
            if permanent:
                refused = permanent[0]
                raise _rejected(f"recipient {refused.recipient} refused", refused) from exc
            raise
        except (aiosmtplib.SMTPSenderRefused, aiosmtplib.SMTPDataError) as exc:
            if exc.code >= 500:
                raise _rejected("message refused", exc) from exc
            raise


def _rejected(what: str, exc: aiosmtplib.SMTPResponseException) -> ApplicationError:
    return ApplicationError(
        f"{what}: {exc.code} {exc.message}",
        type=EMAIL_REJECTED,
        non_retryable=True,
    )

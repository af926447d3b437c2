"""The send-email action: render a message and hand it to the configured SMTP relay, once.

Each send is one effect with a deterministic key (`meta.effect_key`), and the effect ledger
remembers what became of it. A retried or re-run activity whose key is recorded returns the
recorded result without talking to SMTP. The ledger row is written only after the relay
accepted the message, so SMTP delivery is *at least once*, not exactly once: a crash (or a lost
database write) between the relay's acceptance and the ledger write sends the mail again on the
next attempt. The `Message-ID`, derived from the effect key, is identical on every attempt, so
receivers and mail tooling can recognise and drop the duplicate.

Retries decide how this behaves, so failures are classified by the SMTP reply: any 5xx (sender,
recipient, data, authentication) is permanent, the same mail would be refused again, so it
becomes a non-retryable `EmailRejected`; 4xx replies and connection problems are transient and
propagate unchanged, letting the activity's retry policy try again.

Not sending is a normal outcome, not an error: a user who opted out (the
`email_opt_out_attribute` of their profile is true) or whose address renders empty or invalid is
*suppressed* with a reason, recorded in the ledger like a delivery, and the journey continues.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from urllib.parse import quote

import aiosmtplib
from opentelemetry.trace import SpanKind
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.rendering import (
    RenderLimits,
    in_render_thread,
    render_html,
    render_text,
    render_text_async,
)
from journey.contracts.actions import (
    EMAIL_REJECTED,
    SEND_EMAIL,
    SendEmailInput,
    SendEmailResult,
    TemplateContext,
)
from journey.core.config import Settings
from journey.core.ledger import DeliveryRecord, Ledger
from journey.core.telemetry.tracing import tracer

__all__ = ["EmailActivities", "is_valid_address", "message_id_for", "unsubscribe_url"]

# Deliberately simple: one local part, one domain, no spaces or angle brackets. Full RFC 5322
# validation is the relay's job; this only filters what can never be delivered.
_ADDRESS = re.compile(r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+$")
SMTP_TIMEOUT_SECONDS = 30.0
LEDGER_KIND = "email"


def message_id_for(effect_key: str) -> str:
    """The same Message-ID for every attempt of one effect, so duplicates are recognisable."""
    return f"<{hashlib.sha256(effect_key.encode()).hexdigest()[:32]}@journey>"


def is_valid_address(value: str) -> str | None:
    """The bare address in `value` ("a@b" or "Name <a@b>"), or None if it is not one."""
    if not value.strip():
        return None
    _, address = parseaddr(value)
    return address if address and _ADDRESS.match(address) else None


def unsubscribe_url(template: str, *, user_id: str, effect_key: str) -> str:
    """The one-click unsubscribe link. Plain replacement, not str.format: the template is
    operator text that may contain other braces, and values are quoted so they stay one
    path or query component."""
    return template.replace("{user_id}", quote(user_id, safe="")).replace(
        "{effect_key}", quote(effect_key, safe="")
    )


def opt_out_reason(context: TemplateContext, attribute: str) -> str | None:
    """Why the user must not be mailed, or None. Any truthy value counts: when in doubt, the
    user's wish not to be mailed wins."""
    attributes = context.user.get("attributes")
    if isinstance(attributes, dict) and attributes.get(attribute):
        return f"user opted out ({attribute})"
    return None


class EmailActivities:
    def __init__(self, settings: Settings, ledger: Ledger) -> None:
        if settings.smtp_ssl and settings.smtp_starttls:
            # Fail at worker start, not on every send.
            raise ValueError("JOURNEY_SMTP_SSL and JOURNEY_SMTP_STARTTLS are mutually exclusive")
        self._settings = settings
        self._ledger = ledger
        self._limits = RenderLimits.from_settings(settings)
        self._tracer = tracer(settings)

    @activity.defn(name=SEND_EMAIL)
    async def send_email(self, request: SendEmailInput) -> SendEmailResult:
        key = request.meta.effect_key
        # The ledger is synchronous database I/O; keep it off the worker's event loop.
        recorded = await asyncio.to_thread(self._ledger.lookup, key)
        if recorded is not None:
            activity.logger.info("email %s already %s; not sending again", key, recorded.outcome)
            return _result_of(recorded)

        result = await self._deliver(request)
        # Written only after the relay accepted the message. If this process dies (or this write
        # fails) before the row is committed, the retry sends the mail a second time: SMTP has
        # no way to make this exactly once, and the deterministic Message-ID is what lets the
        # receiver deduplicate.
        record = await asyncio.to_thread(
            self._ledger.record,
            key,
            kind=LEDGER_KIND,
            outcome="delivered" if result.outcome == "sent" else "suppressed",
            result=result.model_dump(mode="json"),
            **request.meta.origin(),
        )
        # A concurrent attempt that recorded first wins; report what it did.
        return _result_of(record)

    async def _deliver(self, request: SendEmailInput) -> SendEmailResult:
        """Send the message, or decide not to; the outcome the ledger records."""
        context = request.context
        message_id = message_id_for(request.meta.effect_key)
        reason = opt_out_reason(context, self._settings.email_opt_out_attribute)
        if reason is not None:
            return _suppressed(message_id, reason)
        to = (await render_text_async(request.to, context, limits=self._limits)).strip()
        recipient = is_valid_address(to)
        if recipient is None:
            return _suppressed(message_id, f"invalid recipient {to!r}" if to else "empty recipient")

        # Renders the sender, subject and bodies: on the render threads, never on the loop.
        message = await in_render_thread(self._build_message, request, to=to, message_id=message_id)
        sender = parseaddr(str(message["From"]))[1] or self._settings.smtp_from
        await self._send(message, sender=sender, recipient=recipient)
        return SendEmailResult(outcome="sent", message_id=message_id, recipients=[recipient])

    def _build_message(self, request: SendEmailInput, *, to: str, message_id: str) -> EmailMessage:
        context, limits, settings = request.context, self._limits, self._settings
        message = EmailMessage()
        from_address = request.from_address or settings.smtp_from
        message["From"] = render_text(from_address, context, limits=limits).strip()
        message["To"] = to
        # Header values must be a single line; a rendered newline would be a header injection.
        subject = render_text(request.subject, context, limits=limits)
        message["Subject"] = " ".join(subject.splitlines())
        if request.reply_to:
            message["Reply-To"] = render_text(request.reply_to, context, limits=limits).strip()
        message["Message-ID"] = message_id
        message["Date"] = formatdate(localtime=False, usegmt=True)
        message["X-Journey-Effect-Key"] = request.meta.effect_key
        if settings.unsubscribe_url_template:
            url = unsubscribe_url(
                settings.unsubscribe_url_template,
                user_id=request.meta.user_id,
                effect_key=request.meta.effect_key,
            )
            message["List-Unsubscribe"] = f"<{url}>"
            # RFC 8058: mailbox providers may unsubscribe with a POST, without a user click.
            message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        text = html = None
        if request.text is not None:
            text = render_text(request.text, context, limits=limits)
        if request.html is not None:
            html = render_html(request.html, context, limits=limits)
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
        # The password leaves its SecretStr only here, straight into the client; never logged.
        password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
        # aiosmtplib has no OpenTelemetry instrumentation: one client span per handover.
        span = self._tracer.start_as_current_span(
            "smtp send",
            kind=SpanKind.CLIENT,
            attributes={
                "server.address": settings.resolved_smtp_host,
                "server.port": settings.smtp_port,
                "journey.email.message_id": str(message["Message-ID"]),
            },
        )
        try:
            with span:
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
        except aiosmtplib.SMTPResponseException as exc:
            # Sender, data, HELO or AUTH refused for good; 4xx stays retryable.
            if exc.code >= 500:
                raise _rejected(f"message refused ({type(exc).__name__})", exc) from exc
            raise


def _suppressed(message_id: str, reason: str) -> SendEmailResult:
    activity.logger.info("email suppressed: %s", reason)
    return SendEmailResult(outcome="suppressed", message_id=message_id, reason=reason)


def _result_of(record: DeliveryRecord) -> SendEmailResult:
    if record.result is not None:
        return SendEmailResult.model_validate(record.result)
    # Every email record carries its result; this only guards against a row written elsewhere.
    if record.outcome == "delivered":
        return SendEmailResult(outcome="sent", message_id=message_id_for(record.key))
    return SendEmailResult(
        outcome="suppressed", message_id=message_id_for(record.key), reason=record.outcome
    )


def _rejected(what: str, exc: aiosmtplib.SMTPResponseException) -> ApplicationError:
    return ApplicationError(
        f"{what}: {exc.code} {exc.message}",
        type=EMAIL_REJECTED,
        non_retryable=True,
    )

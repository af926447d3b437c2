"""The real email and webhook code, unable to send: what a simulation shows is what they render.

`KeepingEmail` is the email activity with its last step, the SMTP hand-off, replaced by keeping
the message; `Offline` is an HTTP transport that refuses every request, for the webhook
activity's client, so a request that escaped the stand-ins could still reach nothing.
"""

from __future__ import annotations

from email.message import EmailMessage
from typing import Any, NoReturn

import httpx

from activities.email import EmailActivities

__all__ = ["KeepingEmail", "Kept", "Offline", "email_details"]


class Offline(httpx.AsyncBaseTransport):
    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        raise RuntimeError(f"a simulation sends nothing, refused {request.method} {request.url}")


class Kept(Exception):
    """Carries the message the email activity would have handed to SMTP."""

    def __init__(self, message: EmailMessage) -> None:
        super().__init__("kept by the simulation")
        self.message = message


class KeepingEmail(EmailActivities):
    # Keyword-only in the base class, which passes them by name: the names stay.
    async def _send(self, message: EmailMessage, *, sender: str, recipient: str) -> NoReturn:  # noqa: ARG002
        raise Kept(message)


def _body(message: EmailMessage, subtype: str) -> str | None:
    part = message.get_body(preferencelist=(subtype,))
    if part is None or part.get_content_subtype() != subtype:
        return None
    return str(part.get_content())


def email_details(message: EmailMessage) -> dict[str, Any]:
    headers = ("From", "To", "Reply-To", "Subject", "Message-ID", "List-Unsubscribe")
    details: dict[str, Any] = {
        name.lower().replace("-", "_"): str(message[name]) for name in headers if message[name]
    }
    details["text"] = _body(message, "plain")
    details["html"] = _body(message, "html")
    return details

"""`webhook`: one HTTP request. URL, header values and string leaves of the body are templates.

Credentials never appear in a journey: a header value may instead be `{"secret": "NAME"}` and
`signing_secret` names the Standard Webhooks signing key. Both are *names*, resolved from the
worker's settings (`JOURNEY_SECRETS`) inside the activity, so the values stay out of stored
journeys and workflow history. Names are plain identifiers, never templates, so validation of
the templated `headers` field passes over them untouched.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, ClassVar, Literal

from pydantic import Field, JsonValue

from dsl.common import IDENTIFIER_PATTERN, StrictModel
from dsl.durations import Duration
from dsl.nodes.base import ActionNode

StatusCode = Annotated[int, Field(ge=100, le=599)]

SECRET_NAME_PATTERN = r"^[A-Za-z0-9_.-]+$"
SecretName = Annotated[
    str,
    Field(
        min_length=1,
        max_length=100,
        pattern=SECRET_NAME_PATTERN,
        description="Name of a secret configured on the worker (JOURNEY_SECRETS).",
    ),
]


class SecretRef(StrictModel):
    """A header value taken from the worker's secrets by name, e.g. `{"secret": "crm_token"}`."""

    secret: SecretName


class WebhookNode(ActionNode):
    type: Literal["webhook"] = "webhook"
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    url: str = Field(min_length=1)
    headers: dict[str, str | SecretRef] = Field(
        default_factory=dict,
        description='Header values: a template, or {"secret": "NAME"} for a configured secret.',
    )
    body: JsonValue = None
    request_timeout: Duration = timedelta(seconds=10)
    accept_status: list[StatusCode] | None = Field(
        default=None, description="Accepted statuses; None means any 2xx."
    )
    save_as: str | None = Field(
        default=None,
        pattern=IDENTIFIER_PATTERN,
        description="Store the JSON response body in vars under this name.",
    )
    signing_secret: SecretName | None = Field(
        default=None,
        description="Sign each request (Standard Webhooks: webhook-id, webhook-timestamp, "
        "webhook-signature) with this configured secret.",
    )

    template_fields: ClassVar[tuple[str, ...]] = ("url", "headers", "body")

    def template_headers(self) -> dict[str, str]:
        """The headers whose values are templates."""
        return {name: value for name, value in self.headers.items() if isinstance(value, str)}

    def secret_headers(self) -> dict[str, str]:
        """Header name -> secret name, for the headers whose values are configured secrets."""
        return {
            name: value.secret
            for name, value in self.headers.items()
            if isinstance(value, SecretRef)
        }

    def accepts(self, status: int) -> bool:
        if self.accept_status is None:
            return 200 <= status < 300
        return status in self.accept_status

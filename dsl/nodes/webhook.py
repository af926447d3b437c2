"""`webhook`: one HTTP request. URL, header values and string leaves of the body are templates."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, ClassVar, Literal

from pydantic import Field, JsonValue

from dsl.common import IDENTIFIER_PATTERN
from dsl.durations import Duration
from dsl.nodes.base import ActionNode

StatusCode = Annotated[int, Field(ge=100, le=599)]


class WebhookNode(ActionNode):
    type: Literal["webhook"] = "webhook"
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    url: str = Field(min_length=1)
    headers: dict[str, str] = Field(default_factory=dict)
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

    template_fields: ClassVar[tuple[str, ...]] = ("url", "headers", "body")

    def accepts(self, status: int) -> bool:
        if self.accept_status is None:
            return 200 <= status < 300
        return status in self.accept_status

"""`email`: send one message. Every text field is a template rendered by the email activity."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from dsl.nodes.base import ActionNode


class EmailNode(ActionNode):
    type: Literal["email"] = "email"
    to: str = Field(min_length=1)
    from_: str | None = Field(default=None, alias="from")
    subject: str = Field(min_length=1)
    text: str | None = None
    html: str | None = None
    reply_to: str | None = None

    template_fields: ClassVar[tuple[str, ...]] = (
        "to",
        "from_",
        "subject",
        "text",
        "html",
        "reply_to",
    )

    @model_validator(mode="after")
    def _has_body(self) -> EmailNode:
        if self.text is None and self.html is None:
            raise PydanticCustomError("missing_body", "an email needs `text`, `html` or both")
        return self

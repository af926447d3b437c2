"""Request and response models of the BPMN import and export routes."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from pydantic import Field

from api.schemas.workflows import WorkflowPublic

_EXAMPLE_FILE = Path(__file__).resolve().parents[2] / "examples" / "bpmn" / "welcome.bpmn"
XML_MEDIA_TYPES = ("application/xml", "text/xml", "application/bpmn+xml")


class BpmnImported(WorkflowPublic):
    """The stored draft, plus the trigger its message start event suggests."""

    suggested_trigger: dict[str, Any] | None = Field(
        default=None,
        description="A trigger rule (event_type from the message start event's message name); "
        "create it with POST /api/triggers to start the journey from events.",
    )


@cache
def example_bpmn() -> str:
    try:
        return _EXAMPLE_FILE.read_text(encoding="utf-8")
    except OSError:
        return "<bpmn:definitions xmlns:bpmn='http://www.omg.org/spec/BPMN/20100524/MODEL'/>"


def xml_request_body() -> dict[str, Any]:
    """The OpenAPI requestBody of the import route: the BPMN document itself, as XML."""
    content: dict[str, Any] = {
        media: {"schema": {"type": "string", "format": "binary"}} for media in XML_MEDIA_TYPES
    }
    content["application/xml"]["example"] = example_bpmn()
    return {"requestBody": {"required": True, "content": content}}


def xml_response(description: str) -> dict[int | str, dict[str, Any]]:
    return {
        200: {
            "description": description,
            "content": {"application/xml": {"schema": {"type": "string"}}},
        }
    }

"""The JSON Schema of journey documents, for editors and `journey schema`."""

from __future__ import annotations

from typing import Any

from dsl.document import JourneyDocument


def journey_json_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of a journey document, by alias (`from`, `not`)."""
    schema = JourneyDocument.model_json_schema(by_alias=True, mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema.setdefault("title", "Journey")
    return schema

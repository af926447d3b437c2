"""Webhook secrets in the DSL: `{"secret": NAME}` header values and `signing_secret`.

Both are names, never values, and never templates: the validator passes over them while still
checking the template headers beside them.
"""

from __future__ import annotations

from typing import Any

import pytest

from dsl.nodes import WebhookNode
from dsl.nodes.webhook import SecretRef
from dsl.schema import journey_json_schema
from dsl.validation import validate_journey
from tests.dsl.builders import end, journey


def hook(**extra: Any) -> dict[str, Any]:
    node: dict[str, Any] = {
        "id": "crm",
        "type": "webhook",
        "url": "https://crm.example.com/contacts",
        "next": "done",
    }
    node.update(extra)
    return node


def test_secret_headers_and_signing_secret_validate() -> None:
    headers = {"Authorization": {"secret": "crm_token"}, "X-Plan": "{{ user.attributes.plan }}"}
    result = validate_journey(journey(hook(headers=headers, signing_secret="crm.signing"), end()))

    assert result.problems == []
    assert result.document is not None
    node = result.document.nodes[0]
    assert isinstance(node, WebhookNode)
    assert node.headers["Authorization"] == SecretRef(secret="crm_token")
    assert node.signing_secret == "crm.signing"
    assert node.template_headers() == {"X-Plan": "{{ user.attributes.plan }}"}
    assert node.secret_headers() == {"Authorization": "crm_token"}


def test_defaults_have_no_secrets() -> None:
    node = WebhookNode.model_validate(hook())
    assert node.signing_secret is None
    assert node.secret_headers() == {} and node.template_headers() == {}


@pytest.mark.parametrize(
    ("extra", "path"),
    [
        ({"headers": {"Authorization": {"secret": "{{ user.id }}"}}}, "/headers/Authorization"),
        ({"headers": {"Authorization": {"secret": ""}}}, "/headers/Authorization"),
        ({"headers": {"Authorization": {"secret": "a", "value": "x"}}}, "/headers/Authorization"),
        ({"headers": {"Authorization": {"name": "a"}}}, "/headers/Authorization"),
        ({"signing_secret": "has space"}, "/signing_secret"),
        ({"signing_secret": {"secret": "a"}}, "/signing_secret"),
    ],
)
def test_malformed_secret_references_are_reported_where_they_are(
    extra: dict[str, Any], path: str
) -> None:
    result = validate_journey(journey(hook(**extra), end()))
    assert result.document is None
    paths = [problem.path for problem in result.problems]
    assert paths and all(p.startswith(f"/nodes/0{path}") for p in paths), result.problems


def test_template_headers_beside_a_secret_are_still_checked() -> None:
    headers = {"Authorization": {"secret": "crm_token"}, "X-Bad": "{{ secrets.crm_token }}"}
    result = validate_journey(journey(hook(headers=headers), end()))
    assert [(p.path, p.code) for p in result.problems] == [
        ("/nodes/0/headers/X-Bad", "unknown_field_root")
    ]


def test_json_schema_describes_secret_headers_and_signing_secret() -> None:
    schema = journey_json_schema()
    webhook = schema["$defs"]["WebhookNode"]["properties"]
    header_value = webhook["headers"]["additionalProperties"]
    kinds = [option.get("type") or option.get("$ref") for option in header_value["anyOf"]]
    assert kinds == ["string", "#/$defs/SecretRef"]
    secret_ref = schema["$defs"]["SecretRef"]
    assert secret_ref["required"] == ["secret"]
    assert secret_ref["additionalProperties"] is False
    signing = webhook["signing_secret"]
    assert {"type": "string", "pattern": "^[A-Za-z0-9_.-]+$"}.items() <= signing["anyOf"][0].items()

"""Hostile XML: DTDs, entity expansion and external entities are refused before any expansion.

The external-entity documents point at a real file with a secret in it and at a real HTTP
server: the secret must not appear anywhere and the server must see no request.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from journey.bpmn import BpmnSyntaxError, import_bpmn
from tests.harness.http_receiver import HttpReceiver
from tests.journey.bpmn.helpers import END, START, chain, document

VALID = document(START + END + chain("start", "done"))
_DEFINITIONS = VALID[VALID.index("<bpmn:definitions") :]
ROOT_NAME = "bpmn:definitions"


def _with_doctype(doctype: str, body_entity: str | None = None) -> str:
    """The valid document with a DOCTYPE (and an entity reference in the process name)."""
    text = _DEFINITIONS
    if body_entity is not None:
        text = text.replace('name="Test"', f'name="{body_entity}"')
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{doctype}\n{text}'


def _refused(source: str | bytes) -> BpmnSyntaxError:
    with pytest.raises(BpmnSyntaxError) as caught:
        import_bpmn(source)
    return caught.value


def test_the_document_without_a_doctype_imports() -> None:
    assert import_bpmn(VALID).ok


def test_billion_laughs_is_refused() -> None:
    entities = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)
    ]
    doctype = f"<!DOCTYPE {ROOT_NAME} [{''.join(entities)}]>"
    error = _refused(_with_doctype(doctype, "&lol9;").encode())
    assert error.code == "xml_dtd_forbidden"
    assert "lol" not in error.message.replace(ROOT_NAME, "")


def test_quadratic_blowup_is_refused() -> None:
    doctype = f'<!DOCTYPE {ROOT_NAME} [<!ENTITY big "{"x" * 50_000}">]>'
    error = _refused(_with_doctype(doctype, "&big;" * 2_000))
    assert error.code == "xml_dtd_forbidden"


def test_external_file_entity_is_refused_and_never_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-7f3a")
    doctype = f'<!DOCTYPE {ROOT_NAME} [<!ENTITY xxe SYSTEM "{secret.as_uri()}">]>'
    error = _refused(_with_doctype(doctype, "&xxe;"))
    assert error.code == "xml_dtd_forbidden"
    assert "TOP-SECRET" not in error.message


def test_external_dtd_and_parameter_entities_fetch_nothing(http_receiver: HttpReceiver) -> None:
    documents = [
        f'<!DOCTYPE {ROOT_NAME} SYSTEM "{http_receiver.url("/evil.dtd")}">',
        f'<!DOCTYPE {ROOT_NAME} PUBLIC "-//X//Y" "{http_receiver.url("/public.dtd")}">',
        f'<!DOCTYPE {ROOT_NAME} [<!ENTITY % remote SYSTEM "{http_receiver.url("/p.dtd")}"> '
        "%remote;]>",
        f'<!DOCTYPE {ROOT_NAME} [<!ENTITY web SYSTEM "{http_receiver.url("/e")}">]>',
    ]
    for doctype in documents:
        assert _refused(_with_doctype(doctype)).code == "xml_dtd_forbidden"
    assert http_receiver.requests == []


def test_even_a_harmless_doctype_is_refused() -> None:
    error = _refused(_with_doctype(f"<!DOCTYPE {ROOT_NAME}>"))
    assert error.code == "xml_dtd_forbidden"
    assert "BPMN needs none" in error.message


def test_an_undeclared_entity_is_malformed_xml() -> None:
    error = _refused(VALID.replace('name="Test"', 'name="&xxe;"'))
    assert error.code == "xml_malformed"
    assert "undefined entity" in error.message


@pytest.mark.parametrize(
    ("source", "code", "fragment"),
    [
        ("<bpmn:definitions", "xml_malformed", "line 1"),
        ("", "xml_malformed", "line 1"),
        (VALID.replace("</bpmn:process>", ""), "xml_malformed", "mismatched tag"),
        ("<definitions/>", "not_bpmn", "namespace 'none'"),
        ('<svg xmlns="http://www.w3.org/2000/svg"/>', "not_bpmn", "'svg'"),
        (b"\xff\xfe\x00<", "xml_malformed", "not well-formed"),
    ],
)
def test_unreadable_input_says_why(source: str | bytes, code: str, fragment: str) -> None:
    error = _refused(source)
    assert error.code == code
    assert fragment in error.message

"""Parsing untrusted BPMN safely: no DTD, no entity declarations, no external references.

A BPMN file never needs a DTD, so any document type declaration is refused outright; that alone
stops external entities (file or network reads) and entity-expansion bombs ("billion laughs")
before a single entity is expanded. The entity and external-reference guards of defusedxml stay
on as a second line should the DTD check ever be relaxed.
"""

from __future__ import annotations

from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException, DTDForbidden
from defusedxml.ElementTree import fromstring

from journey.bpmn.namespaces import BPMN, split_tag


class BpmnSyntaxError(ValueError):
    """The input is not a BPMN 2.0 XML document Journey will read; `code` names why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def parse_bpmn_xml(source: bytes | str) -> Element:
    """The `bpmn:definitions` root of `source`, or BpmnSyntaxError."""
    try:
        root = fromstring(source, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DTDForbidden as exc:
        raise BpmnSyntaxError(
            "xml_dtd_forbidden",
            f"the document declares a DTD ({exc.name or 'unnamed'}); DTDs are refused because "
            "they enable external entities and entity-expansion attacks, and BPMN needs none",
        ) from None
    except DefusedXmlException as exc:  # entities or external references: the second line
        raise BpmnSyntaxError("xml_forbidden", f"refused: {exc}") from None
    except ParseError as exc:
        line, column = getattr(exc, "position", (0, 0))
        reason = str(exc).split(":")[0]
        raise BpmnSyntaxError(
            "xml_malformed",
            f"not well-formed XML at line {line}, column {column + 1}: {reason}",
        ) from None
    except (ValueError, TypeError) as exc:  # e.g. an unknown encoding declaration
        raise BpmnSyntaxError("xml_malformed", f"cannot read the XML: {exc}") from None
    uri, local = split_tag(root.tag)
    if (uri, local) != (BPMN, "definitions"):
        raise BpmnSyntaxError(
            "not_bpmn",
            f"the root element is {local!r} in namespace {uri or 'none'!r}; a BPMN 2.0 "
            f"document has <definitions> in {BPMN}",
        )
    return root

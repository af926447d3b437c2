"""The XML namespaces a journey's BPMN uses, and small helpers for namespaced names."""

from __future__ import annotations

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI = "http://www.omg.org/spec/BPMN/20100524/DI"
DC = "http://www.omg.org/spec/DD/20100524/DC"
DI = "http://www.omg.org/spec/DD/20100524/DI"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
XFLOW = "https://journey.dev/schema/xflow/1.0"
"""The xflow extension's namespace; published as schemas/xflow-lifecycle.xsd. A change that is
not backwards compatible gets a new URI (…/2.0), so old diagrams keep their meaning."""

CONDITION_LANGUAGE = XFLOW + "/condition"
"""`language` of a condition expression in the simple syntax (journey.bpmn.expressions)."""
JSON_CONDITION_LANGUAGE = XFLOW + "/condition+json"
"""`language` of a condition written as the DSL's JSON condition."""

PREFIXES = {"bpmn": BPMN, "bpmndi": BPMNDI, "dc": DC, "di": DI, "xsi": XSI, "xflow": XFLOW}


def bpmn(local: str) -> str:
    return f"{{{BPMN}}}{local}"


def xflow(local: str) -> str:
    return f"{{{XFLOW}}}{local}"


def split_tag(tag: str) -> tuple[str, str]:
    """`{uri}local` -> (uri, local); a name without namespace -> ("", name)."""
    if tag.startswith("{"):
        uri, _, local = tag[1:].partition("}")
        return uri, local
    return "", tag


def local_name(tag: str) -> str:
    return split_tag(tag)[1]


def strip_prefix(reference: str) -> str:
    """An id reference as some tools write it (`tns:Message_1`) -> `Message_1`."""
    return reference.rpartition(":")[2].strip()

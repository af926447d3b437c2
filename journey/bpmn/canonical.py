"""A journey's JSON form, and what "equivalent journeys" means for the BPMN round trip.

Two journeys are equivalent when they have the same journey-wide fields (name, description,
lifecycle stages, start, exit criteria, goal, time zone, variables, flags) and the same nodes by
id, each with the same type, parameters and transitions. Not compared: the order of the node
list (it means nothing) and the diagram's layout. A node named exactly its default label
(journey.bpmn.labels) counts as unnamed, since that is how a diagram shows an unnamed node.
Values compare as JSON, so `1`, `1.0` and `true` stay different.
"""

from __future__ import annotations

import json
from typing import Any

from dsl.document import JourneyDocument
from journey.bpmn.labels import default_label

_PRUNED = ("retry", "until_time")


def document_json(document: JourneyDocument) -> dict[str, Any]:
    """The journey as JSON without unset fields. Unlike `exclude_none`, a condition that
    compares with null keeps its `"value": null`."""
    data = document.model_dump(mode="json", by_alias=True)
    # id and type first: that is how people read a node.
    nodes = [{"id": n["id"], "type": n["type"], **_without_none(n)} for n in data.pop("nodes")]
    for node in nodes:
        for key in _PRUNED:
            if isinstance(node.get(key), dict):
                node[key] = _without_none(node[key])
    return {**_without_none(data), "nodes": nodes}


def canonical(document: JourneyDocument) -> dict[str, Any]:
    data = document_json(document)
    nodes = {}
    for node in data.pop("nodes"):
        if node.get("name") == default_label(node["id"]):
            del node["name"]
        nodes[node["id"]] = node
    return {**data, "nodes": nodes}


def equivalent(left: JourneyDocument, right: JourneyDocument) -> bool:
    return _text(canonical(left)) == _text(canonical(right))


def _text(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _without_none(data: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in data.items() if value is not None}

"""Reading the xflow extension off one BPMN element (schemas/xflow-lifecycle.xsd).

On any element that becomes a journey node (and on the process, for journey-wide fields):

* `<xflow:Parameter name="subject">Welcome!</xflow:Parameter>` sets one field of the node.
  `type="json"` reads the text as JSON (objects, lists, numbers, booleans), `type="condition"`
  as a condition (JSON or the simple syntax of journey.bpmn.expressions); the default is text.
* any other `xflow:*` attribute is the same as a text parameter: `xflow:outcome="welcomed"`.
* `<xflow:Action type="email">` (or `xflow:action="email"`) selects the action of a service or
  send task; Parameters may sit inside it or beside it.
* `<xflow:Lifecycle stage="Activation" reason="..."/>` moves the user to a stage at that point
  (on the process: one per stage the journey is about).

`xflow:nodeId`, `xflow:variant` and `xflow:weight` are structural, not parameters: the node id
when the BPMN id cannot be one, and an A/B split's variant on a sequence flow. Elements of other
namespaces (camunda:, zeebe:, modeler:) are ignored; an unknown xflow element is a problem,
because a typo must never silently do nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from xml.etree.ElementTree import Element

from journey.bpmn.expressions import ConditionSyntaxError, parse_condition
from journey.bpmn.namespaces import BPMN, XFLOW, split_tag
from journey.bpmn.problems import Problems

STRUCTURAL_ATTRIBUTES = frozenset({"nodeId", "action", "variant", "weight"})
PARAMETER_TYPES = ("string", "json", "condition")


@dataclass
class Lifecycle:
    stage: str
    reason: str | None


@dataclass
class Extensions:
    """The xflow content of one element; mapping code takes what it uses out of `params`."""

    params: dict[str, Any] = field(default_factory=dict)
    action: str | None = None
    lifecycles: list[Lifecycle] = field(default_factory=list)
    node_id: str | None = None
    variant: str | None = None
    weight: str | None = None

    def take(self, name: str) -> Any:
        return self.params.pop(name, None)

    @property
    def empty(self) -> bool:
        return not (self.params or self.action or self.lifecycles)


def read_extensions(element: Element, problems: Problems) -> Extensions:
    ext = Extensions()
    for name, value in element.attrib.items():
        uri, local = split_tag(name)
        if uri != XFLOW:
            continue
        if local in STRUCTURAL_ATTRIBUTES:
            setattr(ext, {"nodeId": "node_id"}.get(local, local), value)
        else:
            ext.params[local] = value
    container = element.find(f"{{{BPMN}}}extensionElements")
    if container is None:
        return ext
    for child in container:
        uri, local = split_tag(child.tag)
        if uri != XFLOW:
            continue  # another tool's extension (camunda:, zeebe:, modeler:): not ours to read
        if local == "Parameter":
            _add_parameter(ext, element, child, problems)
        elif local == "Action":
            _read_action(ext, element, child, problems)
        elif local == "Lifecycle":
            stage = child.get("stage")
            if not stage:
                problems.add(element, "lifecycle_without_stage", "xflow:Lifecycle needs `stage`")
            else:
                ext.lifecycles.append(Lifecycle(stage=stage, reason=child.get("reason")))
        else:
            problems.add(
                element,
                "unknown_extension",
                f"xflow:{local} is not an element of the xflow extension; expected "
                "xflow:Parameter, xflow:Action or xflow:Lifecycle",
            )
    return ext


def _read_action(ext: Extensions, owner: Element, action: Element, problems: Problems) -> None:
    kind = action.get("type")
    if not kind:
        problems.add(owner, "action_without_type", "xflow:Action needs `type`")
    elif ext.action not in (None, kind):
        problems.add(
            owner,
            "conflicting_action",
            f"xflow:action says {ext.action!r} but xflow:Action says {kind!r}",
        )
    else:
        ext.action = kind
    for child in action:
        uri, local = split_tag(child.tag)
        if (uri, local) == (XFLOW, "Parameter"):
            _add_parameter(ext, owner, child, problems)
        elif uri == XFLOW:
            problems.add(
                owner,
                "unknown_extension",
                f"xflow:{local} cannot appear inside xflow:Action; only xflow:Parameter can",
            )


def _add_parameter(ext: Extensions, owner: Element, param: Element, problems: Problems) -> None:
    name = param.get("name")
    kind = param.get("type", "string")
    if not name:
        problems.add(owner, "parameter_without_name", "xflow:Parameter needs `name`")
        return
    if name in ext.params:
        problems.add(owner, "duplicate_parameter", f"parameter {name!r} is given twice")
        return
    if kind not in PARAMETER_TYPES:
        problems.add(
            owner,
            "unknown_parameter_type",
            f"parameter {name!r} has type {kind!r}; expected one of {', '.join(PARAMETER_TYPES)}",
        )
        return
    if len(param):
        problems.add(owner, "parameter_not_text", f"parameter {name!r} must hold text only")
        return
    text = param.text or ""
    if kind == "string":
        ext.params[name] = text
        return
    try:
        ext.params[name] = json.loads(text) if kind == "json" else parse_condition(text)
    except json.JSONDecodeError as exc:
        problems.add(owner, "invalid_parameter_json", f"parameter {name!r} is not JSON: {exc}")
    except ConditionSyntaxError as exc:
        problems.add(owner, "invalid_condition_expression", f"parameter {name!r}: {exc}")

"""`import_bpmn`: a BPMN 2.0 document -> a validated journey, or every problem with it.

Two passes, so the problems stay meaningful: first the mapping, which reports every element
outside the supported subset (and every misuse of the xflow extension) at once; once the diagram
maps, the journey's own validation (`validate_journey`), whose problems are traced back to the
BPMN element each offending node came from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from xml.etree.ElementTree import Element

from pydantic import ValidationError

from dsl.document import JourneyDocument
from dsl.problems import Problem
from dsl.triggers import TriggerRule
from dsl.validation import validate_journey
from journey.bpmn.checks import check_unmapped
from journey.bpmn.elements import HANDLERS
from journey.bpmn.mapping import Mapper
from journey.bpmn.namespaces import bpmn
from journey.bpmn.problems import BpmnProblem, Problems, element_type
from journey.bpmn.reader import FlowNode, Process, read_process
from journey.bpmn.roles import Role, assign_roles
from journey.bpmn.xml import parse_bpmn_xml

_JOURNEY_STRUCTURE = ("start", "nodes", "lifecycle_stages")


@dataclass
class BpmnImport:
    """`document` is set only when there is no problem at all. `definition` is the mapped
    journey as JSON (also when it fails validation, to show what the diagram became)."""

    document: JourneyDocument | None = None
    definition: dict[str, Any] | None = None
    problems: list[BpmnProblem] = field(default_factory=list)
    suggested_trigger: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.document is not None and not self.problems


def import_bpmn(source: bytes | str) -> BpmnImport:
    """Map a BPMN document onto a journey. Raises BpmnSyntaxError for unreadable or unsafe XML."""
    root = parse_bpmn_xml(source)
    problems = Problems()
    process = read_process(root, problems)
    if process is None:
        return BpmnImport(problems=problems.items)
    mapper = Mapper(process, assign_roles(process, problems), problems)
    definition = _map(mapper)
    if problems:
        return BpmnImport(problems=problems.items)
    result = validate_journey(definition)
    if result.document is None:
        traced = [_trace(problem, mapper, process.element) for problem in result.problems]
        return BpmnImport(definition=definition, problems=traced, suggested_trigger=mapper.trigger)
    return BpmnImport(
        document=result.document, definition=definition, suggested_trigger=mapper.trigger
    )


def _map(m: Mapper) -> dict[str, Any]:
    m.assign_ids()
    _start(m)
    for node in m.process.nodes.values():
        handler = HANDLERS.get(m.roles[node.id])
        if handler is not None:
            handler(m, node)
    check_unmapped(m)
    return _journey(m)


def _start(m: Mapper) -> None:
    starts = [node for node in m.process.nodes.values() if m.roles[node.id] is Role.START]
    if not starts:
        m.problems.add(m.process.element, "no_start_event", "the process has no start event")
        return
    for extra in starts[1:]:
        m.problems.add(
            extra.element,
            "multiple_start_events",
            f"a journey has one start; {starts[0].id!r} is the first start event",
        )
    start = starts[0]
    definition = start.definition()
    target = m.next_of(start, branch_end_ok=False)
    if definition == "timerEventDefinition":
        delay_id = m.node_ids[start.id]
        fields = {"id": delay_id, "type": "delay", **m.timer(start, fields_allowed=True)}
        created = m.add(start, {**fields, "next": None}, start.ext)
        created["next"] = m.after(start, target)
        m.start = delay_id
        return
    if definition == "messageEventDefinition":
        holder = start.element.find(bpmn("messageEventDefinition"))
        event_type = m.event_type(start, holder if holder is not None else start.element)
        m.trigger = _trigger(m, start, {"event_type": event_type, **start.ext.params})
    elif definition is not None:
        m.problems.add(
            start.element,
            "unsupported_event",
            f"a start event with {definition} is not supported; use a none, message (the "
            "event that starts the journey) or timer start event",
        )
    elif start.ext.params:
        m.problems.add(
            start.element,
            "extension_ignored",
            "parameters on a none start event have no meaning; a message start event's "
            "parameters describe the suggested trigger",
        )
    after = m.after(start, target)
    m.start = after if isinstance(after, str) else None


def _trigger(m: Mapper, start: FlowNode, rule: dict[str, Any]) -> dict[str, Any] | None:
    """The trigger the message start event suggests (event type = the message name)."""
    try:
        TriggerRule.model_validate(rule)
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            where = ".".join(str(part) for part in error["loc"]) or "trigger"
            m.problems.add(start.element, "invalid_trigger", f"{where}: {error['msg']}")
        return None
    return rule


def _journey(m: Mapper) -> dict[str, Any]:
    process: Process = m.process
    ext = process.ext
    if ext.action:
        m.problems.add(process.element, "extension_ignored", "a process has no xflow:Action")
    for name in _JOURNEY_STRUCTURE:
        if name in ext.params:
            m.problems.add(
                process.element,
                "structural_parameter",
                f"parameter {name!r} is given by the diagram itself; remove it",
            )
    for lifecycle in ext.lifecycles:
        if lifecycle.reason is not None:
            m.problems.add(
                process.element,
                "extension_ignored",
                "xflow:Lifecycle on the process lists the journey's stages and takes no reason",
            )
    documentation = process.element.find(bpmn("documentation"))
    journey: dict[str, Any] = {
        "name": process.element.get("name") or process.element.get("id") or "Imported journey",
    }
    if documentation is not None and documentation.text:
        journey["description"] = documentation.text
    if ext.lifecycles:
        journey["lifecycle_stages"] = [lifecycle.stage for lifecycle in ext.lifecycles]
    journey["start"] = m.start
    journey["nodes"] = m.finish()
    journey.update({k: v for k, v in ext.params.items() if k not in _JOURNEY_STRUCTURE})
    return journey


def _trace(problem: Problem, m: Mapper, process: Element) -> BpmnProblem:
    """The BPMN element behind a validation problem: the longest registered pointer prefix."""
    path = problem.path
    element = process
    best = -1
    for prefix, candidate in m.origins.items():
        if (path == prefix or path.startswith(prefix + "/")) and len(prefix) > best:
            element, best = candidate, len(prefix)
    return BpmnProblem(
        path=path,
        code=problem.code,
        message=problem.message,
        element_id=element.get("id"),
        element_type=element_type(element),
    )

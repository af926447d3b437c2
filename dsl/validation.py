"""`validate_journey`: every problem of a submitted journey, each located by JSON pointer.

Order of work: the node count first (over `MAX_NODES` nothing else is checked), then the
schema (pydantic); its errors are converted to pointers into the submitted data. Only when
the schema is valid do the graph rules (dsl.graph) and the checks that need Jinja or the
time-zone database run, since they need typed nodes. This is the one DSL module besides
dsl.templates allowed to import jinja2: the workflow never imports it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import timedelta
from typing import Any

from jinja2 import TemplateSyntaxError
from pydantic import BaseModel, ValidationError

from dsl.document import MAX_NODES, JourneyDocument
from dsl.durations import duration_problem
from dsl.graph import check_graph
from dsl.nodes import UntilTime, is_valid_timezone
from dsl.problems import Problem, ValidationResult, escape_segment, pointer, sort_problems
from dsl.salvage import UnparsedNode, salvage
from dsl.templates import TEMPLATE_ROOTS, compile_template, is_template, unknown_roots

_TAG_ERRORS = {"union_tag_invalid", "union_tag_not_found"}


def validate_journey(data: Any) -> ValidationResult:
    """Validate parsed JSON; `document` is returned only when there is no problem at all."""
    if (too_many := _too_many_nodes(data)) is not None:
        return ValidationResult(problems=[too_many])
    try:
        document = JourneyDocument.model_validate(data)
    except ValidationError as exc:
        problems = schema_problems(exc, data)
        partial = salvage(data)
        if partial is not None:
            seen = {(p.path, p.code) for p in problems}
            extra = [*check_graph(partial), *_content_problems(partial)]
            for i, node in enumerate(partial.nodes):
                if isinstance(node, UnparsedNode):
                    for suffix, source in node.templates:
                        extra += _template_problems(f"{pointer('nodes', i)}/{suffix}", source)
            problems += [p for p in extra if (p.path, p.code) not in seen]
        return ValidationResult(problems=sort_problems(problems))
    problems = [*check_graph(document), *_content_problems(document)]
    if problems:
        return ValidationResult(problems=sort_problems(problems))
    return ValidationResult(document=document)


def _too_many_nodes(data: Any) -> Problem | None:
    """Over MAX_NODES, the only problem reported: nothing else is checked."""
    nodes = data.get("nodes") if isinstance(data, Mapping) else None
    if not isinstance(nodes, list) or len(nodes) <= MAX_NODES:
        return None
    return Problem(
        path="/nodes",
        code="too_many_nodes",
        message=f"the journey has {len(nodes)} nodes; at most {MAX_NODES} are allowed",
    )


def schema_problems(exc: ValidationError, data: Any) -> list[Problem]:
    problems = []
    for error in exc.errors(include_url=False):
        path = loc_to_pointer(error["loc"], data, error["type"])
        if error["type"] in _TAG_ERRORS:
            key = str(error.get("ctx", {}).get("discriminator", "")).strip("'")
            path += f"/{escape_segment(key)}" if key.isidentifier() else ""
        code = error["type"]
        if code == "enum" and "Acquisition" in str(error.get("ctx", {}).get("expected", "")):
            code = "unknown_lifecycle_stage"
        problems.append(Problem(path=path, code=code, message=error["msg"]))
    return problems


def loc_to_pointer(loc: Sequence[str | int], data: Any, error_type: str = "") -> str:
    """Map a pydantic `loc` onto the submitted data.

    Walks the data alongside the loc: a key or index present in the data is kept; any other
    element is a union tag (discriminated unions add the chosen tag, e.g. "email" for a node
    or "leaf" for a condition) and is dropped. The last element is kept for `missing` errors,
    which name a key that is absent by definition.
    """
    segments: list[str | int] = []
    current: Any = data
    for position, element in enumerate(loc):
        last = position == len(loc) - 1
        in_mapping = isinstance(current, Mapping) and isinstance(element, str)
        in_list = isinstance(current, list) and isinstance(element, int)
        if (in_mapping and element in current) or (in_list and 0 <= int(element) < len(current)):
            segments.append(element)
            current = current[element]
        elif last and error_type == "missing":
            segments.append(element)
        # Otherwise a union tag, not part of the data. A tag may share its name with the key
        # after it ({"ref": ..} is tag "ref" then field "ref"), so below a scalar, drop too.
    return pointer(*segments)


def _content_problems(document: JourneyDocument) -> list[Problem]:
    problems = []
    if not is_valid_timezone(document.timezone):
        problems.append(_bad_zone("/timezone", document.timezone))
    for path, value, in_template in _walk(document, ""):
        if isinstance(value, timedelta):
            why = duration_problem(value)
            if why:
                problems.append(Problem(path=path, code="duration_out_of_range", message=why))
        elif isinstance(value, UntilTime) and value.timezone is not None:
            if not is_valid_timezone(value.timezone):
                problems.append(_bad_zone(f"{path}/timezone", value.timezone))
        elif isinstance(value, str) and in_template:
            problems.extend(_template_problems(path, value))
    return problems


def _bad_zone(path: str, name: str) -> Problem:
    return Problem(
        path=path, code="invalid_timezone", message=f"{name!r} is not an IANA time zone name"
    )


def _template_problems(path: str, source: str) -> list[Problem]:
    try:
        compile_template(source)
    except TemplateSyntaxError as exc:
        return [
            Problem(
                path=path,
                code="template_syntax",
                message=f"{exc.message} (line {exc.lineno})",
            )
        ]
    if not is_template(source):
        return []
    unknown = unknown_roots(source)
    if not unknown:
        return []
    return [
        Problem(
            path=path,
            code="unknown_field_root",
            message=f"template reads {', '.join(sorted(unknown))}; "
            f"templates may read only {', '.join(sorted(TEMPLATE_ROOTS))}",
        )
    ]


def _walk(value: Any, path: str, in_template: bool = False) -> Iterator[tuple[str, Any, bool]]:
    """Every value of the typed document with its pointer (aliases, as submitted)."""
    yield path, value, in_template
    if isinstance(value, BaseModel):
        templated = getattr(type(value), "template_fields", ())
        for name, field in type(value).model_fields.items():
            if name not in value.model_fields_set:
                continue  # defaults were not submitted; only check what the author wrote
            key = field.alias or name
            child = getattr(value, name)
            yield from _walk(
                child, f"{path}/{escape_segment(key)}", in_template or name in templated
            )
    elif isinstance(value, Mapping):
        for key, child in value.items():
            yield from _walk(child, f"{path}/{escape_segment(str(key))}", in_template)
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _walk(child, f"{path}/{index}", in_template)

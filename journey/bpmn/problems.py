"""What a BPMN import reports: each problem names the BPMN element it is about.

Two kinds share one shape. Mapping problems (an element outside the supported subset, a gateway
without a default flow, a bad xflow parameter) have an empty `path`; problems the journey's own
validation found after mapping keep its JSON pointer into the mapped journey in `path`, and are
traced back to the element the offending node came from.
"""

from __future__ import annotations

from collections.abc import Iterable
from xml.etree.ElementTree import Element

from pydantic import BaseModel, ConfigDict

from journey.bpmn.namespaces import BPMN, split_tag


class BpmnProblem(BaseModel):
    model_config = ConfigDict(frozen=True)

    path: str = ""
    code: str
    message: str
    element_id: str | None = None
    element_type: str | None = None

    def __str__(self) -> str:
        where = self.element_id or "(document)"
        if self.element_type:
            where += f" ({self.element_type})"
        if self.path:
            where += f" {self.path}"
        return f"{where} {self.code}: {self.message}"


def element_type(element: Element) -> str:
    """`bpmn:serviceTask` for BPMN elements, `{uri}local` for anything else."""
    uri, local = split_tag(element.tag)
    return f"bpmn:{local}" if uri == BPMN else element.tag


class Problems:
    """Collects every problem of one import so the author sees them all at once."""

    def __init__(self) -> None:
        self.items: list[BpmnProblem] = []

    def add(self, element: Element | None, code: str, message: str) -> None:
        problem = BpmnProblem(
            code=code,
            message=message,
            element_id=element.get("id") if element is not None else None,
            element_type=element_type(element) if element is not None else None,
        )
        if problem not in self.items:  # one element reached along several paths: say it once
            self.items.append(problem)

    def extend(self, problems: Iterable[BpmnProblem]) -> None:
        self.items.extend(problems)

    def __bool__(self) -> bool:
        return bool(self.items)

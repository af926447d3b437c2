"""What validation reports: problems located by JSON pointer into the submitted document.

A JSON pointer (RFC 6901) names the exact field, e.g. `/nodes/3/next`, so an editor can put
the message next to the offending key; `code` is stable for programs, `message` for people.
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict

from dsl.document import JourneyDocument


class Problem(BaseModel):
    model_config = ConfigDict(frozen=True)

    path: str
    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.path or '/'} {self.code}: {self.message}"


class ValidationResult(BaseModel):
    """`document` is set only when there are no problems at all."""

    document: JourneyDocument | None = None
    problems: list[Problem] = []

    @property
    def ok(self) -> bool:
        return not self.problems


def escape_segment(segment: str | int) -> str:
    return str(segment).replace("~", "~0").replace("/", "~1")


def pointer(*segments: str | int) -> str:
    """`pointer("nodes", 3, "next")` -> `/nodes/3/next`; `pointer()` is the whole document."""
    return "".join(f"/{escape_segment(segment)}" for segment in segments)


def join_pointer(base: str, suffix: str) -> str:
    """Append a relative, already-escaped suffix such as `branches/0/next`."""
    return f"{base}/{suffix}" if suffix else base


def sort_problems(problems: Iterable[Problem]) -> list[Problem]:
    """Stable, de-duplicated order: by document position, then code."""
    unique = {(p.path, p.code, p.message): p for p in problems}
    return sorted(unique.values(), key=lambda p: (_pointer_key(p.path), p.code, p.message))


def _pointer_key(path: str) -> list[tuple[int, int | str]]:
    parts = path.split("/")[1:]
    return [(0, int(part)) if part.isdigit() else (1, part) for part in parts]

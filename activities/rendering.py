"""Rendering journey templates inside activities, with template mistakes made non-retryable.

Templates render here and never in the workflow, because rendering reads user data that may
change between attempts and a render error must not fail a workflow task. A template that
references a missing variable or is malformed will fail identically on every retry, so every
Jinja2 error becomes a non-retryable `TemplateError` instead of burning the retry policy.

Plain-text fields (subjects, URLs, headers, JSON values) use the shared environment of
`dsl.templates` so what validated at submission is exactly what renders. HTML email bodies use a
second sandbox with autoescaping, so user data substituted into markup cannot inject markup.

Every render is capped (`RenderLimits`, from `template_max_output_chars` and
`template_max_render_seconds`): a journey author must not be able to tie up a worker or fill its
memory. Rendering streams with `Template.generate` and stops as soon as the output is too long or
the time is up; the time is checked between output chunks and while iterating `range`, so loops
that print nothing are bounded too. Exceeding a cap is non-retryable: the same template over the
same data would exceed it again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any, cast

from jinja2 import StrictUndefined, Template, TemplateError
from temporalio.exceptions import ApplicationError

from activities.contracts import TEMPLATE_ERROR, TemplateContext
from dsl.templates import JourneySandbox, capped_range, compile_template, is_template
from journey.config import Settings

__all__ = ["RenderLimits", "render_html", "render_text", "render_value", "template_error"]

# How many `range` items may pass between two clock reads.
_RANGE_CHECK_EVERY = 256


def _settings_default(name: str) -> Any:
    return Settings.model_fields[name].default


@dataclass(frozen=True)
class RenderLimits:
    """Caps of one render; the defaults are those of Settings, so callers without settings
    (and the older call sites that pass no limits) are capped the same way."""

    max_output_chars: int = _settings_default("template_max_output_chars")
    max_render_seconds: float = _settings_default("template_max_render_seconds")

    @classmethod
    def from_settings(cls, settings: Settings) -> RenderLimits:
        return cls(
            max_output_chars=settings.template_max_output_chars,
            max_render_seconds=settings.template_max_render_seconds,
        )


class _CapExceeded(Exception):
    """A render went over a cap; raised from inside Jinja2 and turned into a TemplateError."""


class _Budget:
    """The clock of one render, shared by the chunk loop and every `range` the template makes."""

    def __init__(self, limits: RenderLimits) -> None:
        self.limits = limits
        self._deadline = time.monotonic() + limits.max_render_seconds

    def check_time(self) -> None:
        if time.monotonic() > self._deadline:
            raise _CapExceeded(f"render time cap exceeded ({self.limits.max_render_seconds:g}s)")

    def range(self, *args: int) -> _TimedRange:
        return _TimedRange(capped_range(*args), self)


class _TimedRange:
    """The sandbox's capped range that also watches the render clock while being iterated."""

    def __init__(self, items: range, budget: _Budget) -> None:
        self._items = items
        self._budget = budget

    def __iter__(self) -> Iterator[int]:
        for index, item in enumerate(self._items):
            if index % _RANGE_CHECK_EVERY == 0:
                self._budget.check_time()
            yield item

    def __reversed__(self) -> Iterator[int]:
        return iter(_TimedRange(self._items[::-1], self._budget))

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, index: int) -> int:
        return self._items[index]

    def __contains__(self, item: object) -> bool:
        return item in self._items

    def __repr__(self) -> str:
        return repr(self._items)


@cache
def _html_environment() -> JourneySandbox:
    # Same sandbox, caps and strictness as dsl.templates, plus autoescape for HTML parts only.
    return JourneySandbox(undefined=StrictUndefined, autoescape=True)


@lru_cache(maxsize=512)
def _compile_html(source: str) -> Template:
    return _html_environment().from_string(source)


def _snippet(source: str) -> str:
    return source if len(source) <= 200 else source[:197] + "..."


def template_error(source: str, exc: Exception) -> ApplicationError:
    """The non-retryable error a failed render turns into; names the template for operators."""
    return ApplicationError(
        f"template {_snippet(source)!r} failed: {type(exc).__name__}: {exc}",
        type=TEMPLATE_ERROR,
        non_retryable=True,
    )


def _render(
    template_factory: Callable[[str], Template],
    source: str,
    data: dict[str, Any],
    limits: RenderLimits | None,
) -> str:
    budget = _Budget(limits or RenderLimits())
    max_chars = budget.limits.max_output_chars
    # SecurityError (sandbox violation, range/repetition/power caps) and UndefinedError are
    # TemplateError subclasses; unbounded macro recursion is deterministic too.
    try:
        template = template_factory(source)
        # `range` shadows the sandbox's global of the same name for this render only.
        # (typed as an Iterator, it is a generator: closing it stops the render at once)
        chunks = cast(
            Generator[str, None, None], template.generate({**data, "range": budget.range})
        )
        parts: list[str] = []
        size = 0
        try:
            for chunk in chunks:
                size += len(chunk)
                if size > max_chars:
                    raise _CapExceeded(f"output size cap exceeded ({max_chars} characters)")
                budget.check_time()
                parts.append(chunk)
        finally:
            chunks.close()
        return "".join(parts)
    except _CapExceeded as exc:
        raise ApplicationError(
            f"template {_snippet(source)!r} stopped: {exc}",
            type=TEMPLATE_ERROR,
            non_retryable=True,
        ) from exc
    except (TemplateError, RecursionError, ArithmeticError, TypeError, ValueError) as exc:
        # Rendering is pure: `{{ 1/0 }}` or `{{ 'a' + 1 }}` fails the same way on every
        # attempt, so it is a permanent TemplateError, not something to retry.
        raise template_error(source, exc) from exc


def render_text(
    source: str, context: TemplateContext, *, limits: RenderLimits | None = None
) -> str:
    """Render one template without escaping (subjects, URLs, headers, JSON strings)."""
    if not is_template(source):
        return source
    return _render(compile_template, source, context.model_dump(), limits)


def render_html(
    source: str, context: TemplateContext, *, limits: RenderLimits | None = None
) -> str:
    """Render an HTML template, escaping every substituted value."""
    return _render(_compile_html, source, context.model_dump(), limits)


def render_value(
    value: Any, context: TemplateContext, *, limits: RenderLimits | None = None
) -> Any:
    """Render every string leaf of a JSON-like value (dict keys and list items included).

    Non-string leaves (numbers, booleans, None) pass through unchanged, so a body like
    `{"plan": "{{ user.attributes.plan }}", "count": 3}` keeps its shape. Each leaf is one
    render with its own caps.
    """
    data = context.model_dump()
    return _render_value(value, data, limits)


def _render_value(value: Any, data: dict[str, Any], limits: RenderLimits | None) -> Any:
    if isinstance(value, str):
        if not is_template(value):
            return value
        return _render(compile_template, value, data, limits)
    if isinstance(value, dict):
        return {
            _render_value(key, data, limits): _render_value(item, data, limits)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [_render_value(item, data, limits) for item in value]
    return value

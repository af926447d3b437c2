"""Rendering journey templates inside activities, with template mistakes made non-retryable.

Templates render here and never in the workflow, because rendering reads user data that may
change between attempts and a render error must not fail a workflow task. A template that
references a missing variable or is malformed will fail identically on every retry, so every
Jinja2 error becomes a non-retryable `TemplateError` instead of burning the retry policy.

Plain-text fields (subjects, URLs, headers, JSON values) use the shared environment of
`dsl.templates` so what validated at submission is exactly what renders. HTML email bodies use a
second sandbox with autoescaping, so user data substituted into markup cannot inject markup.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from temporalio.exceptions import ApplicationError

from activities.contracts import TEMPLATE_ERROR, TemplateContext
from dsl.templates import compile_template, is_template

__all__ = ["render_html", "render_text", "render_value", "template_error"]


@cache
def _html_environment() -> ImmutableSandboxedEnvironment:
    # Same sandbox and strictness as dsl.templates, plus autoescape for HTML parts only.
    return ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=True)


def template_error(source: str, exc: Exception) -> ApplicationError:
    """The non-retryable error a failed render turns into; names the template for operators."""
    snippet = source if len(source) <= 200 else source[:197] + "..."
    return ApplicationError(
        f"template {snippet!r} failed: {type(exc).__name__}: {exc}",
        type=TEMPLATE_ERROR,
        non_retryable=True,
    )


def _render(template_factory: Any, source: str, data: dict[str, Any]) -> str:
    # SecurityError (sandbox violation) and UndefinedError are TemplateError subclasses.
    try:
        template: Template = template_factory(source)
        return template.render(data)
    except TemplateError as exc:
        raise template_error(source, exc) from exc


def render_text(source: str, context: TemplateContext) -> str:
    """Render one template without escaping (subjects, URLs, headers, JSON strings)."""
    if not is_template(source):
        return source
    return _render(compile_template, source, context.model_dump())


def render_html(source: str, context: TemplateContext) -> str:
    """Render an HTML template, escaping every substituted value."""
    return _render(_html_environment().from_string, source, context.model_dump())


def render_value(value: Any, context: TemplateContext) -> Any:
    """Render every string leaf of a JSON-like value (dict keys and list items included).

    Non-string leaves (numbers, booleans, None) pass through unchanged, so a body like
    `{"plan": "{{ user.attributes.plan }}", "count": 3}` keeps its shape.
    """
    data = context.model_dump()
    return _render_value(value, data)


def _render_value(value: Any, data: dict[str, Any]) -> Any:
    if isinstance(value, str):
        if not is_template(value):
            return value
        return _render(compile_template, value, data)
    if isinstance(value, dict):
        return {_render_value(key, data): _render_value(item, data) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_render_value(item, data) for item in value]
    return value

"""The template language of journeys: Jinja2 in an immutable sandbox with strict undefined.

Templates are compiled during validation (syntax errors are reported at submission) and
rendered inside activities, never in the workflow. Both use this one environment, so what
validates is exactly what renders. The context is plain data only: user, event, vars, journey.
"""

from __future__ import annotations

from functools import cache

from jinja2 import StrictUndefined, Template, meta
from jinja2.sandbox import ImmutableSandboxedEnvironment

TEMPLATE_ROOTS = frozenset({"user", "event", "vars", "journey"})


@cache
def template_environment() -> ImmutableSandboxedEnvironment:
    # autoescape is off here: HTML bodies are escaped by the email activity, which knows
    # which part is HTML; URLs, headers and JSON bodies must not be HTML-escaped.
    return ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False)


def compile_template(source: str) -> Template:
    """Compile, raising jinja2.TemplateSyntaxError with the line of the problem."""
    return template_environment().from_string(source)


def unknown_roots(source: str) -> set[str]:
    """Top-level names a template reads that are not part of the template context."""
    parsed = template_environment().parse(source)
    return set(meta.find_undeclared_variables(parsed)) - TEMPLATE_ROOTS


def is_template(value: str) -> bool:
    return "{{" in value or "{%" in value

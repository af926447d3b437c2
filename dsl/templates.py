"""The template language of journeys: Jinja2 in an immutable sandbox with strict undefined.

Templates are compiled during validation (syntax errors are reported at submission) and
rendered inside activities, never in the workflow. Both use this one environment, so what
validates is exactly what renders. The context is plain data only: user, event, vars, journey.

Journey authors are not trusted with the worker's CPU or memory, so the sandbox is tightened
where a single expression could otherwise run for minutes or allocate gigabytes before the
renderer's output and time caps (activities/rendering.py, checked between output chunks) get a
chance to look: `range` is capped far below Jinja2's default of 100,000 items, and the `*`
(repetition) and `**` (power) operators refuse results beyond a fixed size.
"""

from __future__ import annotations

from functools import cache, lru_cache
from typing import Any

from jinja2 import StrictUndefined, Template, meta
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

TEMPLATE_ROOTS = frozenset({"user", "event", "vars", "journey"})

# jinja2.sandbox.MAX_RANGE is a module constant read by its own `safe_range`, not a class
# attribute, so the sandbox below installs its own `range` instead of overriding it.
MAX_RANGE = 10_000
# Items (or characters) that `seq * n` may produce, and bits that `a ** b` may produce.
MAX_REPEAT = 100_000
MAX_POWER_BITS = 4_096


def capped_range(*args: int) -> range:
    """`range` for templates: at most MAX_RANGE items, so nested loops stay bounded."""
    rng = range(*args)
    if len(rng) > MAX_RANGE:
        raise SecurityError(
            f"range of {len(rng)} items exceeds the template range cap ({MAX_RANGE})"
        )
    return rng


def _check_repeat(left: Any, right: Any) -> None:
    for sequence, count in ((left, right), (right, left)):
        if not (isinstance(sequence, str | list | tuple) and isinstance(count, int)):
            continue
        if len(sequence) * count > MAX_REPEAT:
            raise SecurityError(
                f"repetition of {len(sequence) * count} items exceeds the template "
                f"repetition cap ({MAX_REPEAT})"
            )


def _check_power(base: Any, exponent: Any) -> None:
    if not (isinstance(base, int) and isinstance(exponent, int)):
        return
    if exponent > 0 and exponent * abs(base).bit_length() > MAX_POWER_BITS and abs(base) > 1:
        raise SecurityError(f"power result exceeds the template cap ({MAX_POWER_BITS} bits)")


class JourneySandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox with bounded `range`, repetition and power."""

    intercepted_binops = frozenset({"*", "**"})

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.globals["range"] = capped_range

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            _check_repeat(left, right)
        elif operator == "**":
            _check_power(left, right)
        return super().call_binop(context, operator, left, right)


@cache
def template_environment() -> JourneySandbox:
    # autoescape is off here: HTML bodies are escaped by the email activity, which knows
    # which part is HTML; URLs, headers and JSON bodies must not be HTML-escaped.
    return JourneySandbox(undefined=StrictUndefined, autoescape=False)


# Journeys render the same few templates for every user: compiling is far dearer than
# rendering, and compiled templates are immutable, so they are shared (thread-safe).
@lru_cache(maxsize=2048)
def compile_template(source: str) -> Template:
    """Compile, raising jinja2.TemplateSyntaxError with the line of the problem."""
    return template_environment().from_string(source)


@lru_cache(maxsize=2048)
def unknown_roots(source: str) -> frozenset[str]:
    """Top-level names a template reads that are not part of the template context."""
    parsed = template_environment().parse(source)
    return frozenset(meta.find_undeclared_variables(parsed)) - TEMPLATE_ROOTS


def is_template(value: str) -> bool:
    return "{{" in value or "{%" in value

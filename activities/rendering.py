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
memory. The output is streamed with `Template.generate` and stops as soon as it is too long; the
sandbox (dsl/templates.py) bounds every operation that could allocate a lot in one step; and the
time cap is hard (`_Watchdog`): a template that loops or recurses without printing is stopped
at the cap, not at its next output chunk. Exceeding a cap is non-retryable: the same template
over the same data would exceed it again.

Rendering never runs on an event loop: async activities `await` the `*_async` functions (or
`in_render_thread`), which render on a few dedicated threads, so a slow template cannot delay
the other activities, workflows or HTTP requests sharing the loop. The synchronous functions are
for threads (sync activities, tests) and refuse to run on a loop's thread.
"""

from __future__ import annotations

import asyncio
import contextvars
import ctypes
import functools
import threading
import time
from collections.abc import Callable, Generator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from typing import Any, ParamSpec, TypeVar, cast

from jinja2 import StrictUndefined, Template, TemplateError
from temporalio.exceptions import ApplicationError

from dsl.templates import JourneySandbox, cached_while_short, compile_template, is_template
from journey.contracts.actions import TEMPLATE_ERROR, TemplateContext
from journey.core.config import Settings

__all__ = [
    "RenderLimits",
    "has_template",
    "in_render_thread",
    "render_html",
    "render_text",
    "render_text_async",
    "render_value",
    "render_value_async",
    "template_error",
]

P = ParamSpec("P")
T = TypeVar("T")

# Threads of the render pool. Rendering holds the GIL, so more threads add no throughput; a
# few keep one runaway template (stopped at its time cap) from queueing every other render.
RENDER_THREADS = 4
# A stop request that a render swallowed (an exception raised inside a __del__ is dropped by
# Python) is sent again after this long, until the render ends.
_RESEND_STOP_SECONDS = 0.25


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
    """A render went over a cap; turned into a non-retryable TemplateError."""


class _RenderTimeout(BaseException):
    """Raised inside a render thread by the watchdog. A BaseException, so that no `except
    Exception` in Jinja2 or in a template's own calls can swallow it."""


# PyThreadState_SetAsyncExc(thread id, exception type) makes the thread raise that exception at
# its next bytecode boundary; with NULL it drops one that is pending. Untyped arguments, so that
# None is passed as NULL.
_set_async_exc = ctypes.pythonapi.PyThreadState_SetAsyncExc


class _Watch:
    __slots__ = ("deadline", "done", "thread_id")

    def __init__(self, deadline: float) -> None:
        self.thread_id = threading.get_ident()
        self.deadline = deadline
        self.done = False


class _Watchdog:
    """Stops renders that run past their deadline, by raising `_RenderTimeout` in their thread.

    Why this and not something else: checking the clock from the sandbox's hooks (`call`,
    `getattr`, output chunks, `range`) misses loops that call nothing and print nothing
    (`{% for a in s %}{% for b in s %}{% endfor %}{% endfor %}`: 10^10 iterations of pure
    bytecode), and a thread cannot otherwise be stopped from outside. An asynchronous exception
    is delivered at the next bytecode boundary, so it stops any pure-Python loop or recursion
    within milliseconds; what it cannot interrupt is one long C call, and the sandbox bounds
    every operation so that none is long (dsl/templates.py). A subprocess per render would stop
    anything but costs a process hop per template, which journeys (several short templates per
    step, on the benchmarked path) cannot afford.

    One daemon thread serves every render of the process: it sleeps until the earliest
    deadline of the renders in progress. Starting and ending a watch costs a lock each; a render
    that ends in time never wakes the thread.
    """

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._live: set[_Watch] = set()
        self._wake_at = float("inf")
        self._thread: threading.Thread | None = None

    def start(self, watch: _Watch) -> None:
        with self._condition:
            self._live.add(watch)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="journey-render-watchdog", daemon=True
                )
                self._thread.start()
            if watch.deadline < self._wake_at:
                self._condition.notify()

    def end(self, watch: _Watch) -> None:
        """After this returns no stop request for `watch` is pending or can arrive. Called in
        the render's thread; idempotent (a stop may interrupt the first call)."""
        with self._condition:
            watch.done = True
            self._live.discard(watch)
            # Sent just as the render finished and not raised yet: drop it, so the thread goes
            # back to its pool clean.
            _set_async_exc(ctypes.c_ulong(watch.thread_id), None)

    def live(self) -> int:
        with self._condition:
            return len(self._live)

    def _run(self) -> None:
        with self._condition:
            while True:
                now = time.monotonic()
                for watch in self._live:
                    if watch.deadline <= now:
                        _set_async_exc(
                            ctypes.c_ulong(watch.thread_id), ctypes.py_object(_RenderTimeout)
                        )
                        watch.deadline = now + _RESEND_STOP_SECONDS
                self._wake_at = min((w.deadline for w in self._live), default=float("inf"))
                timeout = None if not self._live else max(self._wake_at - now, 0.0)
                self._condition.wait(timeout)


_WATCHDOG = _Watchdog()
_RENDER_POOL = ThreadPoolExecutor(max_workers=RENDER_THREADS, thread_name_prefix="journey-render")


def _within_time_cap(seconds: float, render: Callable[[], T]) -> T:
    """`render()`, stopped by the watchdog once it has run `seconds`."""
    watch = _Watch(time.monotonic() + seconds)
    try:
        try:
            _WATCHDOG.start(watch)
            return render()
        finally:
            _WATCHDOG.end(watch)
    except _RenderTimeout:
        # The stop may have landed inside the first `end`; this one completes it.
        _WATCHDOG.end(watch)
        raise _CapExceeded(f"render time cap exceeded ({seconds:g}s)") from None


def _refuse_on_event_loop() -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise RuntimeError(
        "templates must not render on an event loop thread: await render_text_async, "
        "render_value_async or in_render_thread instead"
    )


async def in_render_thread(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """Run `fn` (which renders templates) on the render threads and await its result."""
    loop = asyncio.get_running_loop()
    call = functools.partial(contextvars.copy_context().run, fn, *args, **kwargs)
    return await loop.run_in_executor(_RENDER_POOL, call)


@cache
def _html_environment() -> JourneySandbox:
    # Same sandbox, caps and strictness as dsl.templates, plus autoescape for HTML parts only.
    return JourneySandbox(undefined=StrictUndefined, autoescape=True)


@cached_while_short
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
    _refuse_on_event_loop()
    limits = limits or RenderLimits()
    # SecurityError (sandbox violation, range/size/power caps) and UndefinedError are
    # TemplateError subclasses; unbounded macro recursion is deterministic too.
    try:
        template = template_factory(source)
        return _within_time_cap(
            limits.max_render_seconds,
            lambda: _streamed(template, data, limits.max_output_chars),
        )
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


def _streamed(template: Template, data: dict[str, Any], max_chars: int) -> str:
    # (typed as an Iterator, it is a generator: closing it stops the render at once)
    chunks = cast(Generator[str, None, None], template.generate(data))
    parts: list[str] = []
    size = 0
    try:
        for chunk in chunks:
            size += len(chunk)
            if size > max_chars:
                raise _CapExceeded(f"output size cap exceeded ({max_chars} characters)")
            parts.append(chunk)
    finally:
        chunks.close()
    return "".join(parts)


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
    data = context.model_dump() if has_template(value) else {}
    return _render_value(value, data, limits)


def has_template(value: Any) -> bool:
    """Whether any string leaf of a JSON-like value is a template (keys included)."""
    if isinstance(value, str):
        return is_template(value)
    if isinstance(value, dict):
        return any(has_template(key) or has_template(item) for key, item in value.items())
    if isinstance(value, list | tuple):
        return any(has_template(item) for item in value)
    return False


async def render_text_async(
    source: str, context: TemplateContext, *, limits: RenderLimits | None = None
) -> str:
    """`render_text` on the render threads; a plain string is returned without a thread hop."""
    if not is_template(source):
        return source
    return await in_render_thread(render_text, source, context, limits=limits)


async def render_value_async(
    value: Any, context: TemplateContext, *, limits: RenderLimits | None = None
) -> Any:
    """`render_value` on the render threads, in one hop for the whole value; a value without
    templates is copied here, without a thread hop."""
    if not has_template(value):
        return render_value(value, context, limits=limits)
    return await in_render_thread(render_value, value, context, limits=limits)


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

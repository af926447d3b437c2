"""The template language of journeys: Jinja2 in an immutable sandbox with strict undefined.

Templates are compiled during validation (syntax errors are reported at submission) and
rendered inside activities, never in the workflow. Both use this one environment, so what
validates is exactly what renders. The context is plain data only: user, event, vars, journey.

Journey authors are not trusted with the worker's CPU or memory. The renderer
(activities/rendering.py) caps the output and stops a render at its time cap, but one C-level
operation can allocate gigabytes in a fraction of a second, before anything gets to look
(`'x'.zfill(10**9)`, `'%999999999s' % x`, `range(9999)|join(big)`). So the sandbox bounds
every operation that can grow a string or a structure *before* it runs:

- Only allowlisted methods of the builtin types are callable (`str.upper` yes, `str.encode`,
  `str.translate`, `int.to_bytes` no); the growing ones (`center`, `ljust`, `rjust`, `zfill`,
  `expandtabs`, `replace`, `join`, `format`, `format_map`) have their result size computed
  from their arguments first.
- Every filter is wrapped: the parametric ones (`center`, `indent`, `wordwrap`, `join`,
  `replace`, `format`, `batch`, `slice`, `urlize`, `tojson`) are checked before they run, and
  every filter's result is checked after, so a chain of amplifying filters (`tojson|tojson|...`)
  stops at the cap instead of doubling.
- The operators `*`, `**`, `+`, `%` and `~` and the literals `[...]`, `(...)` and `{...}` are
  checked, counting shared parts each time they are reached (as `str()` would), so nesting a
  list in itself cannot build an exponential structure.
- Text captured in buffers (macros, `{% set %}` blocks, `caller()`) is joined by a checked
  `concat`; `range` is capped; `lipsum` is not offered.

A refusal is a SecurityError naming the operation and the cap; the renderer turns it into a
non-retryable TemplateError. `MAX_VALUE_SIZE` is a fixed cap (dsl/ has no settings); the
activity's own output cap (`template_max_output_chars`) still applies on top of it.
"""

from __future__ import annotations

import re
import types
from collections.abc import Callable, Iterable, Sequence, Sized
from functools import cache, lru_cache, wraps
from typing import Any, TypeVar

from jinja2 import StrictUndefined, Template, meta, nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment, SandboxedFormatter
from markupsafe import EscapeFormatter, Markup

T = TypeVar("T")

TEMPLATE_ROOTS = frozenset({"user", "event", "vars", "journey"})

# jinja2.sandbox.MAX_RANGE is a module constant read by its own `safe_range`, not a class
# attribute, so the sandbox below installs its own `range` instead of overriding it.
MAX_RANGE = 10_000
# Items (or characters) that `seq * n` may produce, and bits that `a ** b` or `a * b` may produce.
MAX_REPEAT = 100_000
MAX_POWER_BITS = 4_096
# Characters of a string, or weighted items of a structure, any one operation may produce. Well
# above the default output cap (100,000), so it only bites on templates that try to explode.
MAX_VALUE_SIZE = 1_000_000
# Compiled templates kept, and the longest source kept among them (see `cached_while_short`).
CACHED_TEMPLATES = 1024
CACHED_SOURCE_MAX_CHARS = 4096
# Pretty-printing indentation `tojson` may use (each nesting level repeats it on every line).
MAX_JSON_INDENT = 16


def capped_range(*args: int) -> range:
    """`range` for templates: at most MAX_RANGE items, so nested loops stay bounded."""
    rng = range(*args)
    if len(rng) > MAX_RANGE:
        raise SecurityError(
            f"range of {len(rng)} items exceeds the template range cap ({MAX_RANGE})"
        )
    return rng


# ---- sizes ------------------------------------------------------------------------------------


def weight(value: Any, limit: int = MAX_VALUE_SIZE) -> int:
    """Characters and items reachable from `value`, a shared part counted each time it is
    reached (as `str()` or `tojson` would print it). Stops counting once over `limit`, so the
    walk itself is bounded even for a structure that shares itself exponentially."""
    total = 0
    pending = [value]
    while pending and total <= limit:
        item = pending.pop()
        if isinstance(item, str | bytes):
            total += len(item)
        elif isinstance(item, list | tuple):
            total += 1
            pending.extend(item)
        elif isinstance(item, dict):
            total += 1
            pending.extend(item.keys())
            pending.extend(item.values())
        else:
            total += 1
    return total


def check_size(operation: str, size: int, cap: int = MAX_VALUE_SIZE) -> None:
    if size > cap:
        raise SecurityError(
            f"{operation}: a result of size {size} exceeds the template size cap ({cap})"
        )


def _check_result(operation: str, result: Any) -> Any:
    if isinstance(result, str | list | tuple | dict):
        check_size(operation, len(result))
    return result


def _check_repeat(left: Any, right: Any) -> None:
    for sequence, count in ((left, right), (right, left)):
        if not (isinstance(sequence, str | list | tuple) and isinstance(count, int)):
            continue
        size = weight(sequence, MAX_REPEAT) * count
        if size > MAX_REPEAT:
            raise SecurityError(
                f"repetition of {size} items exceeds the template repetition cap ({MAX_REPEAT})"
            )


def _check_product(left: Any, right: Any) -> None:
    if isinstance(left, int) and isinstance(right, int):
        if abs(left).bit_length() + abs(right).bit_length() > MAX_POWER_BITS:
            raise SecurityError(f"product exceeds the template cap ({MAX_POWER_BITS} bits)")
    else:
        _check_repeat(left, right)


def _check_power(base: Any, exponent: Any) -> None:
    if not (isinstance(base, int) and isinstance(exponent, int)):
        return
    if exponent > 0 and exponent * abs(base).bit_length() > MAX_POWER_BITS and abs(base) > 1:
        raise SecurityError(f"power result exceeds the template cap ({MAX_POWER_BITS} bits)")


def _check_sum(left: Any, right: Any) -> None:
    if isinstance(left, str) and isinstance(right, str):
        check_size("string concatenation", len(left) + len(right))
    elif isinstance(left, list | tuple) and isinstance(right, list | tuple):
        check_size("sequence concatenation", weight(left) + weight(right))


# `%` conversions: optional (key), flags, width (or *), .precision (or *), length, type.
_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?(.)", re.S)


def percent_format_size(fmt: str, args: Any) -> int:
    """The characters a `%` format adds by its widths and precisions, before it runs.

    A `*` width takes its value from the arguments, in order, as `%` does."""
    positional = list(args) if isinstance(args, tuple) else [args]
    position, size = 0, len(fmt)
    for match in _PERCENT_SPEC.finditer(fmt):
        widest = 0
        for part in match.group(1, 2):
            if part == "*":
                star = positional[position] if position < len(positional) else 0
                position += 1
                widest = max(widest, abs(star) if isinstance(star, int) else 0)
            elif part:
                widest = max(widest, int(part))
        if match.group(3) != "%":
            position += 1
        size += widest
    return size


def _check_percent(left: Any, right: Any) -> None:
    if isinstance(left, str):
        check_size("%-formatting", percent_format_size(left, right))


def format_spec_size(spec: str) -> int:
    """The widest width or precision in a `str.format` spec (`>20`, `.3f`, `0=+12,.2`)."""
    return max((int(digits) for digits in re.findall(r"\d+", spec)), default=0)


# ---- methods of the builtin types -------------------------------------------------------------

_STR_METHODS = frozenset(
    {
        "capitalize",
        "casefold",
        "center",
        "count",
        "endswith",
        "expandtabs",
        "find",
        "format",
        "format_map",
        "index",
        "isalnum",
        "isalpha",
        "isascii",
        "isdecimal",
        "isdigit",
        "isidentifier",
        "islower",
        "isnumeric",
        "isprintable",
        "isspace",
        "istitle",
        "isupper",
        "join",
        "ljust",
        "lower",
        "lstrip",
        "partition",
        "removeprefix",
        "removesuffix",
        "replace",
        "rfind",
        "rindex",
        "rjust",
        "rpartition",
        "rsplit",
        "rstrip",
        "split",
        "splitlines",
        "startswith",
        "strip",
        "swapcase",
        "title",
        "upper",
        "zfill",
        "striptags",
        "unescape",
        "escape",
    }
)
# Methods templates may call, by receiver type. A builtin type not listed has no callable
# methods at all: `bytes`, `str.encode`, `str.translate`, `int.to_bytes`, `dict.fromkeys`...
_ALLOWED_METHODS: tuple[tuple[Any, frozenset[str]], ...] = (
    (str, _STR_METHODS),
    (list, frozenset({"count", "index", "copy"})),
    (tuple, frozenset({"count", "index"})),
    (dict, frozenset({"get", "items", "keys", "values", "copy"})),
    (range, frozenset({"count", "index"})),
    (bool, frozenset()),
    (int, frozenset({"bit_length"})),
    (float, frozenset({"is_integer"})),
    (bytes | bytearray | set | frozenset | complex, frozenset()),
)


def _is_allowed_method(obj: Any, attr: str) -> bool:
    for kind, allowed in _ALLOWED_METHODS:
        if isinstance(obj, kind):
            return attr in allowed
    return True  # not a builtin type: Jinja's own objects keep the sandbox's usual rules


def _padded_size(text: str, width: Any = 0, *_: Any) -> int:
    return max(len(text), width if isinstance(width, int) else 0)


def _expandtabs_size(text: str, tabsize: Any = 8) -> int:
    return len(text) + text.count("\t") * (tabsize if isinstance(tabsize, int) else 0)


def replace_size(text: str, old: Any, new: Any, count: Any = -1) -> int:
    if not (isinstance(old, str) and isinstance(new, str)):
        return len(text)
    found = len(text) + 1 if old == "" else text.count(old)
    if isinstance(count, int) and count >= 0:
        found = min(found, count)
    return len(text) + found * max(len(new) - len(old), 0)


def join_size(separator: str, items: Sequence[Any]) -> int:
    return max(len(items) - 1, 0) * len(separator) + sum(weight(item) for item in items)


# Result size of the str methods that can grow their receiver, computed from the arguments.
_GROWING_STR_METHODS: dict[str, Callable[..., int]] = {
    "center": _padded_size,
    "ljust": _padded_size,
    "rjust": _padded_size,
    "zfill": _padded_size,
    "expandtabs": _expandtabs_size,
    "replace": replace_size,
}


def _is_str_method(obj: Any) -> bool:
    return isinstance(obj, types.BuiltinMethodType | types.MethodType) and isinstance(
        getattr(obj, "__self__", None), str
    )


def _call_str_method(method: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """A growing str method, with its result size checked before it runs."""
    text, name = method.__self__, method.__name__
    if name == "join" and args:
        items = args[0] if isinstance(args[0], list | tuple) else list(args[0])
        check_size("str.join", join_size(text, items))
        return method(items, *args[1:], **kwargs)
    sizer = _GROWING_STR_METHODS.get(name)
    if sizer is not None:
        check_size(f"str.{name}", sizer(text, *args, *kwargs.values()))
    return method(*args, **kwargs)


class _SizedFormatter(SandboxedFormatter):
    """`str.format` / `format_map` whose widths and precisions are summed before any field is
    formatted (`'{:>999999999}'.format(x)` is refused, not allocated)."""

    def vformat(self, format_string: str, args: Any, kwargs: Any) -> str:
        self._size = len(format_string)
        return _check_result("str.format", super().vformat(format_string, args, kwargs))

    def format_field(self, value: Any, format_spec: str) -> Any:
        self._size += format_spec_size(format_spec) + weight(value)
        check_size("str.format", self._size)
        return super().format_field(value, format_spec)


class _SizedEscapeFormatter(_SizedFormatter, EscapeFormatter):
    pass


# ---- filters ----------------------------------------------------------------------------------


def _indent_check(text: Any, width: Any = 4, *_: Any, **__: Any) -> None:
    indention = len(width) if isinstance(width, str) else width if isinstance(width, int) else 0
    lines = str(text).count("\n") + 1
    check_size("indent", len(str(text)) + lines * indention)


def _center_check(text: Any, width: Any = 80, *_: Any) -> None:
    check_size("center", _padded_size(str(text), width))


def _wordwrap_check(text: Any, width: Any = 79, *args: Any, **kwargs: Any) -> None:  # noqa: ARG001
    wrapstring = kwargs.get("wrapstring", args[1] if len(args) > 1 else None)
    if isinstance(wrapstring, str) and len(wrapstring) > 1:
        # At worst every character starts a line.
        check_size("wordwrap", len(str(text)) * (1 + len(wrapstring)))


def _replace_check(text: Any, old: Any = "", new: Any = "", count: Any = None, **_: Any) -> None:
    check_size("replace", replace_size(str(text), old, new, -1 if count is None else count))


def _format_check(text: Any, *args: Any, **kwargs: Any) -> None:
    check_size("format", percent_format_size(str(text), kwargs or args))


def _batch_check(value: Any, linecount: Any = 1, fill_with: Any = None) -> None:  # noqa: ARG001
    if fill_with is not None and isinstance(linecount, int):
        check_size("batch", linecount * weight(fill_with))


def _slice_check(value: Any, slices: Any = 1, fill_with: Any = None) -> None:  # noqa: ARG001
    if isinstance(slices, int):
        check_size("slice", slices, MAX_RANGE)


def _urlize_check(text: Any, *args: Any, **kwargs: Any) -> None:
    extra = sum(len(a) for a in (*args, *kwargs.values()) if isinstance(a, str))
    words = len(str(text).split())
    check_size("urlize", len(str(text)) * 2 + words * extra)


def _tojson_check(value: Any, indent: Any = None) -> None:  # noqa: ARG001
    size = len(indent) if isinstance(indent, str) else indent if isinstance(indent, int) else 0
    check_size("tojson indent", size, MAX_JSON_INDENT)


# Checked before the filter runs; every filter's result is checked after it ran as well.
# A check takes its filter's parameters under the filter's names, used or not, so that a
# template's keyword arguments (`center(width=...)`, `batch(3, fill_with=...)`) bind the same
# way: hence the `noqa: ARG001` on them.
_FILTER_CHECKS: dict[str, Callable[..., None]] = {
    "indent": _indent_check,
    "center": _center_check,
    "wordwrap": _wordwrap_check,
    "replace": _replace_check,
    "format": _format_check,
    "batch": _batch_check,
    "slice": _slice_check,
    "urlize": _urlize_check,
    "tojson": _tojson_check,
}


def _guarded_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    # Filters marked pass_context/pass_eval_context/pass_environment get that argument first;
    # `wraps` copies the mark, so Jinja still passes it to the wrapper.
    skip = 1 if hasattr(func, "jinja_pass_arg") else 0
    check = _FILTER_CHECKS.get(name)

    @wraps(func)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        args = _materialized_join_items(name, skip, args)
        if check is not None:
            check(*args[skip:], **kwargs)
        elif name == "join":
            separator = args[skip + 1] if len(args) > skip + 1 else kwargs.get("d", "")
            check_size("join", max(len(args[skip]) - 1, 0) * len(str(separator)))
        return _check_result(name, func(*args, **kwargs))

    return guarded


def _materialized_join_items(name: str, skip: int, args: tuple[Any, ...]) -> tuple[Any, ...]:
    """`join` counts its items first, so an iterator (`map`, `select`) becomes a list."""
    if name != "join" or len(args) <= skip or isinstance(args[skip], Sized):
        return args
    return (*args[:skip], list(args[skip]), *args[skip + 1 :])


# ---- compiled code ----------------------------------------------------------------------------


class _CheckedCodeGenerator(CodeGenerator):
    """Routes `~` and the list, tuple and dict literals through the sandbox's size checks.

    Jinja compiles these to plain Python (`str_join((a, b))`, `[a, b]`) with no hook, so a
    literal `[x, x, x]` nested in itself in a loop would build a structure whose `str()` is
    exponentially large. Wrapping the generated expression keeps Jinja's own code generation;
    only loaded values are wrapped (a tuple can also be an assignment target)."""

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.checked_value('~', ")
        super().visit_Concat(node, frame)
        self.write(")")

    def visit_Tuple(self, node: nodes.Tuple, frame: Frame) -> None:
        self._checked_literal(super().visit_Tuple, node, frame)

    def visit_List(self, node: nodes.List, frame: Frame) -> None:
        self._checked_literal(super().visit_List, node, frame)

    def visit_Dict(self, node: nodes.Dict, frame: Frame) -> None:
        self._checked_literal(super().visit_Dict, node, frame)

    def _checked_literal(self, visit: Callable[..., None], node: Any, frame: Frame) -> None:
        if getattr(node, "ctx", "load") != "load":
            visit(node, frame)
            return
        self.write("environment.checked_literal(")
        visit(node, frame)
        self.write(")")


# ---- the environment --------------------------------------------------------------------------


class JourneySandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox with every growing operation bounded (see the module docstring)."""

    code_generator_class = _CheckedCodeGenerator
    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.globals["range"] = capped_range
        # Placeholder text has no place in a journey and takes a paragraph count.
        self.globals.pop("lipsum", None)
        self.filters = {name: _guarded_filter(name, f) for name, f in self.filters.items()}

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            _check_product(left, right)
        elif operator == "**":
            _check_power(left, right)
        elif operator == "+":
            _check_sum(left, right)
        elif operator == "%":
            _check_percent(left, right)
        return _check_result(operator, super().call_binop(context, operator, left, right))

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if callable(value) and not _is_allowed_method(obj, attr):
            return False
        return super().is_safe_attribute(obj, attr, value)

    def call(self, context: Context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        if _is_str_method(obj):
            if not self.is_safe_callable(obj):
                raise SecurityError(f"{obj!r} is not safely callable")
            return _check_result("call", _call_str_method(obj, args, kwargs))
        result = super().call(context, obj, *args, **kwargs)
        if isinstance(result, list | tuple | dict):
            check_size("call", weight(result))
        return _check_result("call", result)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        if not (_is_str_method(value) and value.__name__ in ("format", "format_map")):
            return None
        # The same wrapper as Jinja's, with a formatter that sizes fields before formatting.
        text: str = value.__self__
        formatter: _SizedFormatter = (
            _SizedEscapeFormatter(self, escape=text.escape)
            if isinstance(text, Markup)
            else _SizedFormatter(self)
        )
        is_format_map = value.__name__ == "format_map"

        @wraps(value)
        def sized(*args: Any, **kwargs: Any) -> str:
            if not is_format_map:
                return type(text)(formatter.vformat(text, args, kwargs))
            if kwargs or len(args) != 1:
                raise TypeError("format_map() takes exactly one mapping argument")
            return type(text)(formatter.vformat(text, (), args[0]))

        return sized

    @staticmethod
    def concat(parts: Iterable[str]) -> str:
        """Joins a buffer (a macro's output, a `{% set %}` block, `caller()`): a loop may have
        appended the same long string thousands of times before this one C-level join."""
        pieces = list(parts)
        check_size("captured output", sum(len(piece) for piece in pieces))
        return "".join(pieces)

    @staticmethod
    def checked_value(operation: str, value: Any) -> Any:
        return _check_result(operation, value)

    @staticmethod
    def checked_literal(value: Any) -> Any:
        check_size("literal", weight(value))
        return value


@cache
def template_environment() -> JourneySandbox:
    # autoescape is off here: HTML bodies are escaped by the email activity, which knows
    # which part is HTML; URLs, headers and JSON bodies must not be HTML-escaped.
    return JourneySandbox(undefined=StrictUndefined, autoescape=False)


def cached_while_short(function: Callable[[str], T]) -> Callable[[str], T]:
    """`function` of a template source, cached for sources of at most CACHED_SOURCE_MAX_CHARS.

    Journeys render the same few templates for every user: compiling is far dearer than
    rendering, and compiled templates are immutable, so they are shared (thread-safe). Real
    templates are short; a cache keyed on whole sources must not let large documents (validation
    is open to viewers) pin megabytes per entry, so long sources are compiled every time.
    """
    cached = lru_cache(maxsize=CACHED_TEMPLATES)(function)

    @wraps(function)
    def call(source: str) -> T:
        return cached(source) if len(source) <= CACHED_SOURCE_MAX_CHARS else function(source)

    return call


@cached_while_short
def compile_template(source: str) -> Template:
    """Compile, raising jinja2.TemplateSyntaxError with the line of the problem."""
    return template_environment().from_string(source)


@cached_while_short
def unknown_roots(source: str) -> frozenset[str]:
    """Top-level names a template reads that are not part of the template context."""
    parsed = template_environment().parse(source)
    return frozenset(meta.find_undeclared_variables(parsed)) - TEMPLATE_ROOTS


def is_template(value: str) -> bool:
    return "{{" in value or "{%" in value

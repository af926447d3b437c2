"""Templates render over the plain-data context; every template mistake is non-retryable."""

from __future__ import annotations

from typing import Any

import pytest
from temporalio.exceptions import ApplicationError

from activities.rendering import (
    RenderLimits,
    render_html,
    render_text,
    render_text_async,
    render_value,
    render_value_async,
)
from journey.contracts.actions import TEMPLATE_ERROR
from journey.core.config import Settings
from tests.activities.helpers import assert_non_retryable, make_context


def test_render_value_renders_string_leaves_and_keeps_shape() -> None:
    context = make_context(vars={"n": 3})
    body = {
        "user": "{{ user.id }}",
        "plan": "{{ user.attributes.plan | upper }}",
        "tags": ["static", "{{ vars.n }}"],
        "count": 3,
        "flag": True,
        "none": None,
    }
    assert render_value(body, context) == {
        "user": "u1",
        "plan": "PRO",
        "tags": ["static", "3"],
        "count": 3,
        "flag": True,
        "none": None,
    }


def test_render_text_passes_plain_strings_through() -> None:
    assert render_text("no templates {here}", make_context()) == "no templates {here}"


def test_render_html_escapes_substituted_values_but_not_the_template() -> None:
    context = make_context(vars={"name": "<script>alert(1)</script>"})
    assert render_html("<b>{{ vars.name }}</b>", context) == (
        "<b>&lt;script&gt;alert(1)&lt;/script&gt;</b>"
    )


@pytest.mark.parametrize(
    "source",
    [
        "{{ user.attributes.missing }}",  # StrictUndefined
        "{{ nope }}",
        "{% if %}",  # syntax error
        "{{ user.__class__.__mro__ }}",  # sandbox
        "{{ vars.items.append(1) }}",
        "{{ 1 / 0 }}",  # deterministic data errors fail the same way on every attempt
        "{{ 'a' + 1 }}",
        "{{ '%d' % 'x' }}",
    ],
)
def test_template_errors_are_non_retryable(source: str) -> None:
    with pytest.raises(ApplicationError) as info:
        render_value({"x": [source]}, make_context())
    assert_non_retryable(info, TEMPLATE_ERROR)


def test_sandbox_forbids_mutating_context() -> None:
    context = make_context(vars={"items": [1]})
    with pytest.raises(ApplicationError) as info:
        render_text("{{ vars['items'].append(2) }}", context)
    assert_non_retryable(info, TEMPLATE_ERROR)


# ---- render caps ------------------------------------------------------------------------------
# Each pathological template must stop with a non-retryable TemplateError naming the cap. No
# timing is asserted: a template that escaped its cap would hang until the pytest timeout.

NESTED_RANGE = "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}"


@pytest.mark.parametrize("render", [render_text, render_html, render_value])
def test_nested_range_template_fails_fast(render: Any) -> None:
    with pytest.raises(ApplicationError) as info:
        render(NESTED_RANGE, make_context())
    assert_non_retryable(info, TEMPLATE_ERROR)
    assert "range cap" in str(info.value)


@pytest.mark.parametrize("render", [render_text, render_html, render_value])
def test_huge_output_stops_at_the_size_cap(render: Any) -> None:
    # 10,000 x 10,000 characters, printed in chunks: stops after the first 100,000.
    source = "{% for i in range(10000) %}{% for j in range(10000) %}x{% endfor %}{% endfor %}"
    with pytest.raises(ApplicationError) as info:
        render(source, make_context())
    assert_non_retryable(info, TEMPLATE_ERROR)
    assert "output size cap exceeded (100000 characters)" in str(info.value)


def test_size_cap_is_passed_in() -> None:
    limits = RenderLimits(max_output_chars=5)
    context = make_context()
    assert render_text("{{ 'abcde' }}", context, limits=limits) == "abcde"
    with pytest.raises(ApplicationError) as info:
        render_value({"a": ["{{ 'abcdef' }}"]}, context, limits=limits)
    assert_non_retryable(info, TEMPLATE_ERROR)
    assert "(5 characters)" in str(info.value)


def test_silent_loops_stop_at_the_time_cap() -> None:
    # Prints nothing and calls nothing (10^8 iterations): the watchdog stops it in its thread.
    source = "{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}"
    with pytest.raises(ApplicationError) as info:
        render_text(source, make_context(), limits=RenderLimits(max_render_seconds=0.05))
    assert_non_retryable(info, TEMPLATE_ERROR)
    assert "render time cap exceeded" in str(info.value)


def test_limits_follow_settings() -> None:
    settings = Settings.model_construct(
        template_max_output_chars=7, template_max_render_seconds=0.5
    )
    assert RenderLimits.from_settings(settings) == RenderLimits(7, 0.5)
    defaults = Settings.model_fields
    assert RenderLimits() == RenderLimits(
        defaults["template_max_output_chars"].default,
        defaults["template_max_render_seconds"].default,
    )


@pytest.mark.parametrize(
    ("source", "cap"),
    [
        ("{{ 'x' * 1000000000 }}", "repetition cap"),
        ("{{ [1, 2] * 100000 }}", "repetition cap"),
        ("{{ 10 ** 100000000 }}", "power result exceeds"),
        ("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", "RecursionError"),
    ],
)
def test_single_expressions_cannot_blow_up(source: str, cap: str) -> None:
    with pytest.raises(ApplicationError) as info:
        render_text(source, make_context())
    assert_non_retryable(info, TEMPLATE_ERROR)
    assert cap in str(info.value)


def test_range_still_behaves_like_a_sequence() -> None:
    source = (
        "{{ range(3) | reverse | join(',') }} {{ range(5) | length }} {{ 3 in range(5) }} "
        "{{ range(10)[2] }} {{ range(4) | sum }} {{ 'ab' * 2 }} {{ 2 ** 10 }}"
    )
    assert render_text(source, make_context()) == "2,1,0 5 True 2 6 abab 1024"


def test_everyday_methods_and_filters_still_render() -> None:
    # The sandbox allowlists methods and wraps every filter; ordinary templates must not notice.
    context = make_context(vars={"items": ["b", "a"], "price": 3.5, "text": "a\nb"})
    source = (
        "{{ user.attributes.name.upper() }} {{ user.email.split('@')[1] }} "
        "{{ user.attributes.plan | title }} {{ vars['items'] | sort | join(', ') }} "
        "{{ '%05.1f' % vars.price }} {{ '{:>4}'.format(vars['items'] | length) }} "
        "{{ 'x'.center(5, '*') }} {{ vars.text | indent(2) | replace('\n', '|') }} "
        "{{ user.attributes.get('plan') }} {{ [1, 2] + [3] }} {{ 'a' ~ 1 }} "
        "{{ vars['items'] | tojson }} {{ 'ab' | replace('', '-') }}"
    )
    assert render_text(source, context) == (
        'ADA example.com Pro a, b 003.5    2 **x** a|  b pro [1, 2, 3] a1 ["b", "a"] -a-b-'
    )


async def test_async_renders_run_off_the_loop_and_plain_values_skip_it() -> None:
    context = make_context()
    assert await render_text_async("{{ user.id }}", context) == "u1"
    assert await render_value_async({"a": ["{{ user.id }}", 3]}, context) == {"a": ["u1", 3]}
    assert await render_value_async({"a": ("plain",)}, context) == {"a": ["plain"]}
    with pytest.raises(RuntimeError, match="must not render on an event loop thread"):
        render_text("{{ user.id }}", context)

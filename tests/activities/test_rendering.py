"""Templates render over the plain-data context; every template mistake is non-retryable."""

from __future__ import annotations

import pytest
from temporalio.exceptions import ApplicationError

from activities.contracts import TEMPLATE_ERROR
from activities.rendering import render_html, render_text, render_value
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

"""Issue 22, findings 5 and 6: templates must not exhaust a worker's memory or block its loop.

Memory bombs are refused before they allocate: each would need hundreds of megabytes, and the
render's traced peak stays in the tens. A template that loops or recurses without printing is
stopped by the hard time cap (in the render thread, not at its next output chunk), and while it
runs the event loop of its activity - or of the API serving a simulation - keeps answering.
"""

from __future__ import annotations

import asyncio
import copy
import threading
import tracemalloc
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities import rendering
from activities.events import EventActivities
from activities.rendering import RenderLimits, render_text
from api.auth import Role
from dsl.templates import CACHED_SOURCE_MAX_CHARS, compile_template
from journey.contracts.actions import TEMPLATE_ERROR, EmitEventInput
from journey.core.config import Settings
from tests.activities.helpers import assert_non_retryable, make_context, make_meta
from tests.api.conftest import ApiClientFactory
from tests.api.test_workflows import EXAMPLE, auth, settings_for

# Each would allocate 200 MB or more if it ran; the refusal must come first.
MAX_TRACED_PEAK = 40 * 1024 * 1024
BIG = "{% set big = 'x' * 100000 %}"
BOMBS = {
    "str.zfill": "{{ 'x'.zfill(200000000) }}",
    "str.center": "{{ 'x'.center(200000000) }}",
    "str.ljust": "{{ 'x'.ljust(200000000, '*') }}",
    "str.rjust": "{{ 'x'.rjust(200000000) }}",
    "str.expandtabs": "{{ ('\t' * 1000).expandtabs(200000) }}",
    "str.replace": BIG + "{{ big.replace('x', 'y' * 2000) }}",
    "str.replace (empty)": "{{ ('x' * 2000).replace('', 'y' * 100000) }}",
    "str.join": "{{ ('x' * 20000).join('y' * 10000) }}",
    "str.format width": "{{ '{:>200000000}'.format('x') }}",
    "str.format nested width": "{{ '{0:{1}}'.format('x', 200000000) }}",
    "str.format_map": "{{ '{a:>200000000}'.format_map({'a': 'x'}) }}",
    "% width": "{{ '%200000000s' % 'x' }}",
    "% star width": "{{ '%*s' % (200000000, 'x') }}",
    "% precision": "{{ '%.200000000f' % 1.5 }}",
    "format filter": "{{ '%200000000s' | format('x') }}",
    "center filter": "{{ 'x' | center(200000000) }}",
    "indent filter": "{{ 'a\nb' | indent(200000000) }}",
    "indent filter (string)": BIG + "{{ ('\n' * 2000) | indent(big, blank=true) }}",
    "join filter": "{{ range(2000) | join('x' * 100000) }}",
    "replace filter": BIG + "{{ big | replace('x', 'y' * 2000) }}",
    "wordwrap filter": "{{ ('x ' * 50000) | wordwrap(1, wrapstring='y' * 5000) }}",
    "batch filter": "{{ [1] | batch(30000000, 'x') | list | length }}",
    "tojson indent": "{{ {'a': [[1], [2]]} | tojson(indent=30000000) }}",
    "str.translate": "{{ ('x' * 2000).translate({120: 'y' * 100000}) }}",
    "str.encode": "{{ (('x' * 100000).encode('utf-32') * 500) | length }}",
    "int.to_bytes": "{{ (1).to_bytes(200000000, 'big') | length }}",
    "~ doubling": (
        "{% set ns = namespace(s='x' * 1000) %}{% for i in range(18) %}"
        "{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s | length }}"
    ),
    "+ doubling": (
        "{% set ns = namespace(s='x' * 1000) %}{% for i in range(18) %}"
        "{% set ns.s = ns.s + ns.s %}{% endfor %}{{ ns.s | length }}"
    ),
    "shared list literal": (
        "{% set ns = namespace(l=['x' * 1000]) %}{% for i in range(18) %}"
        "{% set ns.l = [ns.l, ns.l] %}{% endfor %}{{ ns.l | string | length }}"
    ),
    "macro buffer": (
        BIG + "{% macro m() %}{% for i in range(2000) %}{{ big }}{% endfor %}{% endmacro %}"
        "{{ m() | length }}"
    ),
}


@pytest.mark.parametrize("source", BOMBS.values(), ids=BOMBS.keys())
def test_memory_bombs_are_refused_before_they_allocate(source: str) -> None:
    tracemalloc.start()
    try:
        with pytest.raises(ApplicationError) as info:
            render_text(source, make_context())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert_non_retryable(info, TEMPLATE_ERROR)
    assert "cap" in str(info.value) or "unsafe" in str(info.value), info.value
    assert peak < MAX_TRACED_PEAK, f"peaked at {peak / 2**20:.0f} MiB before failing"


@pytest.mark.parametrize(
    ("source", "cap"),
    [
        ("{{ 'x'.zfill(200000000) }}", "template size cap (1000000)"),
        ("{{ '%200000000s' % 'x' }}", "%-formatting"),
        ("{% set a = 2 ** 2000 %}{{ a * a * a }}", "template cap (4096 bits)"),
    ],
)
def test_a_refusal_names_the_operation_and_the_cap(source: str, cap: str) -> None:
    with pytest.raises(ApplicationError) as info:
        render_text(source, make_context())
    assert_non_retryable(info, TEMPLATE_ERROR)
    assert cap in str(info.value)


# ---- the hard time cap ------------------------------------------------------------------------
# Each prints nothing and calls nothing, so only a cap enforced from outside the render stops
# it. Without one they run for minutes (10^8 empty iterations and more, 2^24 macro calls).
LONG = "x" * 20000
RUNAWAYS = {
    "nested loops over a string": (
        "{% for a in vars.s %}{% for b in vars.s %}{% endfor %}{% endfor %}"
    ),
    "recursive macro": (
        "{% macro m(n) %}{% if n %}{{ m(n - 1) }}{{ m(n - 1) }}{% endif %}{% endmacro %}{{ m(24) }}"
    ),
}


@pytest.mark.parametrize("source", RUNAWAYS.values(), ids=RUNAWAYS.keys())
def test_runaway_templates_stop_at_the_time_cap(source: str) -> None:
    with pytest.raises(ApplicationError) as info:
        render_text(source, make_context(vars={"s": LONG}), limits=RenderLimits(2, 0.2))
    assert_non_retryable(info, TEMPLATE_ERROR)
    assert "render time cap exceeded (0.2s)" in str(info.value)


async def test_a_stopped_render_leaves_its_thread_clean() -> None:
    runaway = RUNAWAYS["nested loops over a string"]
    context = make_context(vars={"s": LONG})
    # More runaways than render threads: every thread is stopped at least once.
    stops = [
        rendering.render_text_async(runaway, context, limits=RenderLimits(2, 0.1))
        for _ in range(rendering.RENDER_THREADS + 2)
    ]
    results = await asyncio.gather(*stops, return_exceptions=True)
    assert all("render time cap exceeded" in str(result) for result in results), results
    assert rendering._WATCHDOG.live() == 0
    # The same threads render normally afterwards, with no stop request left pending.
    renders = [
        rendering.render_text_async("{{ user.id }}", context, limits=RenderLimits(9, 5))
        for _ in range(rendering.RENDER_THREADS * 4)
    ]
    assert await asyncio.gather(*renders) == ["u1"] * len(renders)


class RenderProbe:
    """Sees renders start and end, whatever thread they render in."""

    def __init__(self) -> None:
        self.rendering = threading.Event()
        self.on_start: Callable[[], object] = lambda: None


@pytest.fixture
def probe(monkeypatch: pytest.MonkeyPatch) -> RenderProbe:
    probe = RenderProbe()
    real_render = rendering._render

    def observed(*args: Any, **kwargs: Any) -> Any:
        probe.rendering.set()
        probe.on_start()
        try:
            return real_render(*args, **kwargs)
        finally:
            probe.rendering.clear()

    monkeypatch.setattr(rendering, "_render", observed)
    return probe


class _NothingRecorded:
    def lookup(self, _key: str) -> None:
        return None


async def test_an_activity_rendering_a_runaway_template_leaves_its_loop_running(
    probe: RenderProbe,
) -> None:
    settings = Settings.model_construct(template_max_render_seconds=0.3)
    activities = EventActivities(settings, producer=None, ledger=_NothingRecorded())  # type: ignore[arg-type]
    request = EmitEventInput(
        meta=make_meta(),
        event_type="runaway",
        payload={"v": RUNAWAYS["nested loops over a string"]},
        context=make_context(vars={"s": LONG}),
    )
    ticks_while_rendering = 0
    finished = False

    async def ticker() -> None:
        nonlocal ticks_while_rendering
        while not finished:
            if probe.rendering.is_set():
                ticks_while_rendering += 1
            await asyncio.sleep(0.001)

    ticking = asyncio.create_task(ticker())
    try:
        with pytest.raises(ApplicationError) as info:
            await ActivityEnvironment().run(activities.emit_event, request)
    finally:
        finished = True
        await ticking
    assert_non_retryable(info, TEMPLATE_ERROR)
    assert "render time cap exceeded" in str(info.value)
    # Rendering on the loop, the ticker could not run at all while the template rendered.
    assert ticks_while_rendering > 0


# ---- through the API: a simulation renders in-process -----------------------------------------


@pytest.fixture
async def api(
    migrated_database_url: str, tmp_path: Path, api_client_for: ApiClientFactory
) -> AsyncIterator[httpx.AsyncClient]:
    settings = settings_for(migrated_database_url, tmp_path, template_max_render_seconds=5)
    async with api_client_for(settings) as client:
        client.headers.update(auth(settings, Role.editor))
        yield client


async def test_health_answers_while_a_simulation_renders_a_runaway_template(
    api: httpx.AsyncClient, probe: RenderProbe
) -> None:
    document = copy.deepcopy(EXAMPLE)
    email = next(node for node in document["nodes"] if node["id"] == "nudge_email")
    email["subject"] = (
        "{% for a in user.attributes.s %}{% for b in user.attributes.s %}{% endfor %}{% endfor %}"
    )
    created = await api.post("/api/workflows", json={"definition": document})
    assert created.status_code == 201, created.text
    user = {"id": "ada", "email": "ada@example.com", "attributes": {"s": LONG}}
    body = {"user": user, "entry_event": {"type": "signup"}}
    loop, started = asyncio.get_running_loop(), asyncio.Event()
    probe.on_start = lambda: loop.call_soon_threadsafe(started.set)
    simulating = asyncio.create_task(
        api.post(f"/api/workflows/{created.json()['id']}/simulate", json=body)
    )
    try:
        async with asyncio.timeout(60):  # a hang guard only
            await started.wait()
        health = await api.get("/health")
        rendering_when_answered = probe.rendering.is_set()
        simulated = await simulating
    finally:
        simulating.cancel()
    assert health.status_code in (200, 503), health.text  # 503: its servers point nowhere
    assert rendering_when_answered
    assert simulated.status_code == 200, simulated.text
    assert "render time cap exceeded (5s)" in simulated.text


def test_long_template_sources_are_not_kept_by_the_compile_cache() -> None:
    """Validation is open to viewers: documents full of large templates must not pin memory."""
    short = "{{ user.id }}" + "x" * 10
    long = "{{ user.id }}" + "x" * CACHED_SOURCE_MAX_CHARS
    assert compile_template(short) is compile_template(short)
    assert compile_template(long) is not compile_template(long)

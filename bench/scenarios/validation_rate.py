"""How many 200-node journeys `validate_journey` checks per second, against schema parsing alone.

Ours is the full validation a submission gets (schema, graph rules, every template compiled,
durations and time zones); the baseline is only `JourneyDocument.model_validate` on the same
data, the pydantic parsing every validation starts with. The ratio (below 1) is the share of
the schema-only rate that our extra checks leave; 1 / ratio is what they cost. Two metrics:
"new documents" (each call validates a journey whose own templates were never compiled in this
process, as a new submission is) and "same document again" (compiled templates are cached by
dsl.templates, so a re-submitted journey skips most of the Jinja work).

The document is generated, not an example: nineteen blocks of ten nodes, each a realistic
stretch of a lifecycle journey (condition, attribute update, webhook, email, delay, wait for a
correlated event, emitted event, A/B split, stage change, an error end), and a ten-node finale
with a parallel join. Every node is reachable and every path ends, so the document is valid and
no rule stops early.
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from bench.core import Result, Scenario, Size
from dsl.document import JourneyDocument
from dsl.validation import validate_journey
from journey.core.config import Settings

NAME = "validation_rate"
NODES = 200
BLOCK = 10  # nodes per generated block; the finale is one block too


def _block(k: int, after: str, c: str) -> list[dict[str, Any]]:
    """Ten nodes that start at `b{k}_check` and continue at `after`; `c` names the campaign."""
    p = f"b{k}"
    fail = f"{p}_fail"
    retry = {"maximum_attempts": 3, "initial_interval": "PT10S", "backoff_coefficient": 2.0}
    return [
        {
            "id": f"{p}_check",
            "type": "condition",
            "name": f"Step {k}: who gets what",
            "branches": [
                {
                    "when": {
                        "all": [
                            {"field": "user.attributes.plan", "op": "eq", "value": "pro"},
                            {"field": "user.attributes.sessions", "op": "gte", "value": k},
                            {
                                "not": {
                                    "field": "user.attributes.email_opt_out",
                                    "op": "eq",
                                    "value": True,
                                }
                            },
                        ]
                    },
                    "next": f"{p}_tag",
                },
                {
                    "when": {
                        "any": [
                            {
                                "field": "user.current_lifecycle_stage",
                                "op": "in",
                                "value": ["Activation", "Retention"],
                            },
                            {"field": "user.email", "op": "exists"},
                        ]
                    },
                    "next": f"{p}_mail",
                },
            ],
            "default": f"{p}_wait",
        },
        {
            "id": f"{p}_tag",
            "type": "update_attributes",
            "operations": [
                {
                    "op": "set",
                    "path": f"journey.step_{k}",
                    "value": "{{ event.type | default('" + c + "') }}",
                },
                {"op": "increment", "path": "journey.touches", "by": 1},
                {
                    "op": "append",
                    "path": "journey.history",
                    "value": {"step": k, "at": "{{ vars.now }}"},
                },
            ],
            "next": f"{p}_hook",
            "on_error": fail,
        },
        {
            "id": f"{p}_hook",
            "type": "webhook",
            "method": "POST",
            "url": f"https://crm.example.com/{c}/" + "users/{{ user.id }}/steps",
            "headers": {"X-Journey": "{{ journey.id }}", "Authorization": {"secret": "crm_token"}},
            "body": {"user": "{{ user.id }}", "step": k, "plan": "{{ user.attributes.plan }}"},
            "accept_status": [200, 201, 202],
            "save_as": f"crm_{k}",
            "timeout": "PT30S",
            "retry": retry,
            "next": f"{p}_mail",
            "on_error": fail,
        },
        {
            "id": f"{p}_mail",
            "type": "email",
            "to": "{{ user.email }}",
            "subject": f"{c} step {k}: " + "{{ user.attributes.first_name | default('you') }}",
            "text": "Hi {{ user.attributes.first_name | default('there') }},\n"
            "{% if user.attributes.plan == 'pro' %}Thanks for being pro.{% endif %}\n"
            f"See https://app.example.com/{c}/{k}" + "?u={{ user.id | urlencode }}",
            "html": f"<h1>{c}</h1>" + "<p>Hi {{ user.attributes.first_name | e }}</p>",
            "retry": retry,
            "next": f"{p}_pause",
            "on_error": fail,
        },
        {
            "id": f"{p}_pause",
            "type": "delay",
            **(
                {"duration": f"PT{k + 1}H"}
                if k % 2
                else {
                    "until_time": {
                        "hour": 9,
                        "minute": 30,
                        "weekdays": ["mon", "tue", "wed", "thu"],
                        "timezone_field": "user.attributes.timezone",
                        "timezone": "Europe/Berlin",
                    }
                }
            ),
            "next": f"{p}_wait",
        },
        {
            "id": f"{p}_wait",
            "type": "wait_for_event",
            "event_type": "session.started",
            "match": {
                "field": "event.properties.cart_id",
                "op": "eq",
                "value": {"ref": "vars.entry.properties.cart_id"},
            },
            "timeout": "P3D",
            "on_event": f"{p}_split",
            "on_timeout": f"{p}_emit",
        },
        {
            "id": f"{p}_emit",
            "type": "emit_event",
            "event_type": "journey.step_timed_out",
            "payload": {"step": k, "campaign": c, "user": "{{ user.id }}"},
            "next": f"{p}_split",
        },
        {
            "id": f"{p}_split",
            "type": "split",
            "variants": [
                {"name": "control", "weight": 50, "next": after},
                {"name": "promote", "weight": 50, "next": f"{p}_stage"},
            ],
        },
        {
            "id": f"{p}_stage",
            "type": "lifecycle_transition",
            "stage": "Retention",
            "reason": f"step {k}",
            "next": after,
        },
        {"id": fail, "type": "end", "outcome": f"failed_at_step_{k}"},
    ]


def _finale(c: str) -> list[dict[str, Any]]:
    """A parallel join (webhook and email branches), then a score, a goal check and ends."""
    return [
        {
            "id": "final",
            "type": "parallel",
            "branches": ["final_crm", "final_mail"],
            "join": "all",
            "next": "final_score",
        },
        {
            "id": "final_crm",
            "type": "webhook",
            "url": "https://crm.example.com/done",
            "body": {"user": "{{ user.id }}"},
        },
        {
            "id": "final_mail",
            "type": "email",
            "to": "{{ user.email }}",
            "subject": "All done",
            "text": f"Thanks for {c}, " + "{{ user.attributes.first_name | default('friend') }}!",
        },
        {
            "id": "final_score",
            "type": "update_attributes",
            "operations": [{"op": "unset", "path": "journey.history"}],
            "next": "final_rest",
            "on_error": "final_failed",
        },
        {"id": "final_rest", "type": "delay", "duration": "P1D", "next": "final_goal"},
        {
            "id": "final_goal",
            "type": "condition",
            "branches": [
                {
                    "when": {"field": "user.attributes.plan", "op": "eq", "value": "pro"},
                    "next": "final_stage",
                }
            ],
            "default": "final_lapsed",
        },
        {"id": "final_stage", "type": "lifecycle_transition", "stage": "Revenue", "next": "done"},
        {"id": "done", "type": "end", "outcome": "completed"},
        {"id": "final_lapsed", "type": "end", "outcome": "lapsed"},
        {"id": "final_failed", "type": "end", "outcome": "failed"},
    ]


def journey_document(nodes: int = NODES, campaign: str = "spring") -> dict[str, Any]:
    """A valid journey of exactly `nodes` nodes (a multiple of ten). The campaign name is in
    the journey-specific templates, so journeys of different campaigns share only the generic
    ones (`{{ user.email }}`), as different real journeys do."""
    blocks = nodes // BLOCK - 1
    if nodes % BLOCK or blocks < 1:
        raise ValueError(f"nodes must be a multiple of {BLOCK} and at least {2 * BLOCK}")
    body: list[dict[str, Any]] = []
    for k in range(blocks):
        body += _block(k, f"b{k + 1}_check" if k + 1 < blocks else "final", campaign)
    return {
        "name": f"Generated {nodes}-node lifecycle journey ({campaign})",
        "description": "validation_rate benchmark document",
        "lifecycle_stages": ["Activation", "Retention", "Revenue"],
        "timezone": "America/New_York",
        "variables": {"campaign": campaign},
        "goal": {"field": "user.current_lifecycle_stage", "op": "eq", "value": "Revenue"},
        "exit_criteria": {"field": "event.type", "op": "eq", "value": "account.deleted"},
        "start": "b0_check",
        "nodes": [*body, *_finale(campaign)],
    }


def _timed(
    documents: Callable[[], dict[str, Any]], check: Callable[[Any], object], seconds: float
) -> tuple[int, float]:
    """(calls, seconds inside `check`), calling it on `documents()` until `seconds` are spent.
    Making the document is not timed."""
    calls, spent = 0, 0.0
    while spent < seconds:
        document = documents()
        started = time.perf_counter()
        check(document)
        spent += time.perf_counter() - started
        calls += 1
    return calls, spent


def _compare(
    documents: Callable[[], dict[str, Any]], size: Size, metric: str, seconds: float
) -> Result:
    """Ours and the baseline on the same kind of documents, in interleaved rounds so a slow
    moment of the machine does not land on one side only."""
    rounds = int(size.extra["rounds"])
    totals = {"ours": [0, 0.0], "baseline": [0, 0.0]}
    for _ in range(rounds):
        for side, check in (
            ("ours", validate_journey),
            ("baseline", JourneyDocument.model_validate),
        ):
            calls, spent = _timed(documents, check, seconds / 2 / rounds)
            totals[side][0] += calls
            totals[side][1] += spent
    (ours_calls, ours_s), (base_calls, base_s) = totals["ours"], totals["baseline"]
    return Result(
        scenario=NAME,
        metric=metric,
        ours=ours_calls / ours_s,
        baseline=base_calls / base_s,
        unit="validations/s",
        n=size.n,
        better="higher",
        notes={"ours_calls": int(ours_calls), "baseline_calls": int(base_calls)},
    )


async def run(_settings: Settings, size: Size) -> Sequence[Result]:
    document = journey_document(size.n)
    validated = validate_journey(document)  # also the warm-up (imports, Jinja environment)
    if not validated.ok or validated.document is None:
        problems = "; ".join(f"{p.path} {p.code}" for p in validated.problems[:5])
        raise AssertionError(f"the generated journey does not validate: {problems}")
    if len(validated.document.nodes) != size.n:
        raise AssertionError(f"generated {len(validated.document.nodes)} nodes, not {size.n}")
    # New documents: each call gets a journey of a campaign never seen in this process, so
    # its own templates are compiled afresh (dsl.templates caches compiled templates); what a
    # submission of a new journey costs. Same document: re-validating one journey, e.g. a
    # re-submitted draft, where every template is already compiled.
    run_id = uuid.uuid4().hex[:8]
    fresh = (journey_document(size.n, f"c{run_id}x{i}") for i in itertools.count())
    seconds = float(size.extra["seconds"]) / 2
    results = [
        _compare(fresh.__next__, size, "new documents", seconds),
        _compare(lambda: document, size, "same document again", seconds),
    ]
    notes = {"nodes": size.n, "template_strings": _templates(document)}
    return [replace(r, notes={**notes, **r.notes}) for r in results]


def _templates(value: Any) -> int:
    """Strings holding Jinja markup in the submitted data (compiling them dominates ours)."""
    if isinstance(value, dict):
        return sum(_templates(child) for child in value.values())
    if isinstance(value, list):
        return sum(_templates(child) for child in value)
    return int(isinstance(value, str) and ("{{" in value or "{%" in value))


SCENARIO = Scenario(
    name=NAME,
    description=(
        "Validations per second of a generated 200-node journey: `validate_journey` (schema, "
        "graph rules, templates, zones) vs `JourneyDocument.model_validate` (schema only)."
    ),
    run=run,
    quick=Size(quick=True, n=NODES, extra={"seconds": 5.0, "rounds": 2}),
    full=Size(quick=False, n=NODES, extra={"seconds": 60.0, "rounds": 4}),
)

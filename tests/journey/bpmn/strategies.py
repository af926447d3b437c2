"""Hypothesis strategies for valid journeys that use every node type and field.

A journey is grown as a tree of paths from the start: each step draws a node kind, and paths
inside a parallel branch end with an action that has no `next` (the DSL's branch end), paths
outside end at an end node (sometimes one that already exists, so nodes get several incoming
transitions). Text mixes what XML carries badly on purpose: markup characters, newlines,
carriage returns, control characters and non-BMP characters.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from dsl.stages import LIFECYCLE_STAGES

MAX_NODES = 30
# No braces, % or #: random text must stay a valid Jinja template (templates are added apart).
_ALPHABET = st.characters(
    codec="utf-8", exclude_characters="{}%#", exclude_categories=("Cs",)
) | st.sampled_from(["<", ">", "&", '"', "'", "\n", "\r", "\t", "\x01", "\x0b", "😀", "é"])
TEXT = st.text(_ALPHABET, max_size=12)
NONEMPTY = st.text(_ALPHABET, min_size=1, max_size=12)
TEMPLATE = st.sampled_from(["{{ user.email }}", "{{ user.id }}", "Hi {{ user.attributes.name }}"])
ID_PREFIX = st.from_regex(r"\A[A-Za-z0-9_-]{0,6}\Z")
EVENT_TYPE = st.from_regex(r"\A[A-Za-z0-9_.:-]{1,12}\Z")
SEGMENT = st.from_regex(r"\A[A-Za-z0-9_-]{1,6}\Z") | st.sampled_from(["in", "not", "class", "0"])
FIELD = st.builds(
    lambda root, segments: ".".join([root, *segments]),
    st.sampled_from(["user", "event", "vars"]),
    st.lists(SEGMENT, max_size=3),
)
ATTRIBUTE_PATH = st.from_regex(r"\A[A-Za-z_][A-Za-z0-9_]{0,5}(\.[A-Za-z_][A-Za-z0-9_]{0,5}){0,2}\Z")
DURATION = st.integers(1, 366 * 86_400)
SCALAR = (
    st.none()
    | st.booleans()
    | st.integers(-(10**9), 10**9)
    | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT
)
JSON = st.recursive(
    SCALAR,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=6,
)
TEMPLATED_JSON = JSON | st.dictionaries(TEXT, TEMPLATE, min_size=1, max_size=2)


def _leaf() -> st.SearchStrategy[dict[str, Any]]:
    value = SCALAR | st.builds(lambda path: {"ref": path}, FIELD) | st.lists(SCALAR, max_size=3)
    compare = st.builds(
        lambda field, op, value: {"field": field, "op": op, "value": value},
        FIELD,
        st.sampled_from(["eq", "ne", "gt", "gte", "lt", "lte", "contains", "starts_with"]),
        value,
    )
    listed = st.builds(
        lambda field, op, items: {"field": field, "op": op, "value": items},
        FIELD,
        st.sampled_from(["in", "not_in"]),
        st.lists(SCALAR, max_size=3),
    )
    unary = st.builds(
        lambda field, op: {"field": field, "op": op},
        FIELD,
        st.sampled_from(["exists", "not_exists"]),
    )
    return compare | listed | unary


CONDITION = st.recursive(
    _leaf(),
    lambda inner: (
        st.builds(lambda items: {"all": items}, st.lists(inner, min_size=1, max_size=3))
        | st.builds(lambda items: {"any": items}, st.lists(inner, min_size=1, max_size=3))
        | st.builds(lambda item: {"not": item}, inner)
    ),
    max_leaves=4,
)


class _Grower:
    def __init__(self, draw: st.DrawFn) -> None:
        self.draw = draw
        self.nodes: list[dict[str, Any]] = []
        self.ends: list[str] = []
        self.count = 0

    def new_id(self) -> str:
        # The counter after the last "x" keeps ids unique; the prefix tries ids that are not XML
        # names ("-x1", "7x2").
        self.count += 1
        return f"{self.draw(ID_PREFIX)}x{self.count}"

    def add(self, node: dict[str, Any]) -> str:
        draw = self.draw
        if draw(st.booleans()):
            node["name"] = draw(TEXT)
        if draw(st.integers(0, 3)) == 0:
            node["description"] = draw(TEXT)
        self.nodes.append(node)
        return str(node["id"])

    def path(self, depth: int, in_branch: bool) -> str:
        draw = self.draw
        kinds = ["finish"]
        if depth < 5 and self.count < MAX_NODES:
            kinds += ["action", "action", "delay", "wait", "condition", "split", "parallel"]
        kind = draw(st.sampled_from(kinds))
        node: dict[str, Any] = {"id": self.new_id()}
        if kind == "finish":
            return self.finish(node, in_branch)
        if kind == "action":
            node.update(draw(_action()))
            if draw(st.integers(0, 3)) == 0:
                node["on_error"] = self.path(depth + 1, in_branch)
            node["next"] = self.path(depth + 1, in_branch)
        elif kind == "delay":
            node.update(type="delay", **draw(_delay_mode()))
            if draw(st.booleans()):
                node["max_iterations"] = draw(st.integers(1, 50))
            node["next"] = self.path(depth + 1, in_branch)
        elif kind == "wait":
            node.update(type="wait_for_event", event_type=draw(EVENT_TYPE), timeout=draw(DURATION))
            if draw(st.booleans()):
                node["match"] = draw(CONDITION)
            if draw(st.booleans()):
                node["max_iterations"] = draw(st.integers(1, 50))
            node["on_event"] = self.path(depth + 1, in_branch)
            node["on_timeout"] = self.path(depth + 1, in_branch)
        elif kind == "condition":
            count = draw(st.integers(1, 3))
            branches = [
                {"when": draw(CONDITION), "next": self.path(depth + 1, in_branch)}
                for _ in range(count)
            ]
            node.update(type="condition", branches=branches)
            node["default"] = self.path(depth + 1, in_branch)
        elif kind == "split":
            names = draw(st.lists(NONEMPTY, min_size=2, max_size=3, unique=True))
            node.update(type="split", variants=[])
            for name in names:
                weight = draw(st.integers(1, 100))
                target = self.path(depth + 1, in_branch)
                node["variants"].append({"name": name, "weight": weight, "next": target})
        else:
            count = draw(st.integers(2, 3))
            node.update(
                type="parallel", branches=[self.path(depth + 1, True) for _ in range(count)]
            )
            if draw(st.booleans()):
                node["join"] = "any"
            if not in_branch or draw(st.booleans()):
                node["next"] = self.path(depth + 1, in_branch)
        return self.add(node)

    def finish(self, node: dict[str, Any], in_branch: bool) -> str:
        draw = self.draw
        if in_branch:  # the last node of a branch: an action without `next`
            node.update(draw(_action()))
            return self.add(node)
        if self.ends and draw(st.booleans()):
            return str(draw(st.sampled_from(self.ends)))
        node["type"] = "end"
        if draw(st.booleans()):
            node["outcome"] = draw(NONEMPTY)
        self.ends.append(node["id"])
        return self.add(node)


def _retry() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {},
        optional={
            "maximum_attempts": st.integers(1, 10),
            "initial_interval": DURATION,
            "backoff_coefficient": st.floats(1.0, 10.0),
            "maximum_interval": DURATION,
        },
    )


def _action() -> st.SearchStrategy[dict[str, Any]]:
    common = {"retry": _retry(), "timeout": DURATION}
    email = st.fixed_dictionaries(
        {"type": st.just("email"), "to": TEMPLATE | NONEMPTY, "subject": NONEMPTY, "text": TEXT},
        optional={"html": TEXT, "from": NONEMPTY, "reply_to": TEMPLATE, **common},
    )
    webhook = st.fixed_dictionaries(
        {"type": st.just("webhook"), "url": st.just("https://hooks.example.com/") | NONEMPTY},
        optional={
            "method": st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE"]),
            "headers": st.dictionaries(
                st.from_regex(r"\A[A-Za-z-]{1,8}\Z"),
                TEMPLATE | st.builds(lambda n: {"secret": n}, st.from_regex(r"\A[a-z_]{1,6}\Z")),
                max_size=2,
            ),
            "body": TEMPLATED_JSON,
            "request_timeout": st.integers(1, 60),
            "accept_status": st.lists(st.integers(100, 599), min_size=1, max_size=3),
            "save_as": st.from_regex(r"\A[a-z_][a-z0-9_]{0,5}\Z"),
            "signing_secret": st.from_regex(r"\A[a-z_]{1,6}\Z"),
            **common,
        },
    )
    operation = (
        st.builds(lambda p, v: {"op": "set", "path": p, "value": v}, ATTRIBUTE_PATH, JSON)
        | st.builds(lambda p: {"op": "unset", "path": p}, ATTRIBUTE_PATH)
        | st.builds(
            lambda p, by: {"op": "increment", "path": p, "by": by},
            ATTRIBUTE_PATH,
            st.integers(-5, 5) | st.floats(-5, 5),
        )
        | st.builds(lambda p, v: {"op": "append", "path": p, "value": v}, ATTRIBUTE_PATH, JSON)
    )
    update = st.fixed_dictionaries(
        {
            "type": st.just("update_attributes"),
            "operations": st.lists(operation, min_size=1, max_size=3),
        },
        optional=common,
    )
    emit = st.fixed_dictionaries(
        {"type": st.just("emit_event"), "event_type": EVENT_TYPE},
        optional={"payload": TEMPLATED_JSON, **common},
    )
    lifecycle = st.fixed_dictionaries(
        {"type": st.just("lifecycle_transition"), "stage": st.sampled_from(LIFECYCLE_STAGES)},
        optional={"reason": TEXT, **common},
    )
    sub_journey = st.fixed_dictionaries(
        {"type": st.just("sub_journey"), "journey_id": NONEMPTY},
        optional={
            "wait": st.booleans(),
            "variables": st.dictionaries(st.from_regex(r"\A[a-z]{1,5}\Z"), TEMPLATE | JSON),
            **common,
        },
    )
    return email | webhook | update | emit | lifecycle | sub_journey


def _delay_mode() -> st.SearchStrategy[dict[str, Any]]:
    until_time = st.fixed_dictionaries(
        {"hour": st.integers(0, 23)},
        optional={
            "minute": st.integers(0, 59),
            "weekdays": st.lists(
                st.sampled_from(["mon", "tue", "wed", "thu", "fri", "sat", "sun"]),
                min_size=1,
                unique=True,
            ),
            "timezone_field": st.just("user.attributes.timezone"),
            "timezone": st.sampled_from(["UTC", "Europe/Paris"]),
        },
    )
    return (
        st.builds(lambda d: {"duration": d}, DURATION)
        | st.builds(lambda f: {"until_field": f}, st.just("user.attributes.trial_ends_at"))
        | st.builds(lambda t: {"until_time": t}, until_time)
    )


@st.composite
def journeys(draw: st.DrawFn) -> dict[str, Any]:
    grower = _Grower(draw)
    start = grower.path(0, in_branch=False)
    journey: dict[str, Any] = {"name": draw(NONEMPTY), "start": start, "nodes": grower.nodes}
    optional = {
        "description": TEXT,
        "lifecycle_stages": st.lists(st.sampled_from(LIFECYCLE_STAGES), unique=True, max_size=3),
        "exit_criteria": CONDITION,
        "goal": CONDITION,
        "timezone": st.sampled_from(["UTC", "Europe/Paris", "America/New_York"]),
        "variables": st.dictionaries(st.from_regex(r"\A[a-z]{1,5}\Z"), JSON, max_size=3),
        "create_missing_profile": st.booleans(),
        "restrict_to_stages": st.booleans(),
    }
    for key, strategy in optional.items():
        if draw(st.booleans()):
            journey[key] = draw(strategy)
    return journey

"""Which event types a journey run can use: its waits' types, and what its exit criteria read.

A running journey takes events by the `event` signal, and every signal is an event in the run's
history, whether or not the run does anything with it. The events consumer therefore signals a
user's run only when its journey `wants` the event's type: a run that cannot use an event is
spared a history event, and so continues-as-new less often and replays faster.

A run can use an event in two ways only:

* a `wait_for_event` node waits for its type (a wait anywhere in the graph counts: the event is
  buffered until the wait is reached);
* the exit criteria, checked on every delivered event, could be true for it. When they require
  the event's type to be some literal types (a top-level leaf `event.type eq X` or
  `event.type in [..]`, alone or directly inside a top-level `all`), other types cannot make them
  true; any other exit criteria (`any`, `not`, a ref, conditions on user or vars only, ...) may
  hold for any event, so the journey wants every type.

Pure and conservative: `wants` may say yes to an event a run ends up ignoring, never no to one
it could use. Sub-journeys are separate runs with their own documents and interests.
"""

from __future__ import annotations

from dataclasses import dataclass

from dsl.conditions import AllOf, AnyOf, Leaf, NotOf, Op, Ref
from dsl.document import JourneyDocument
from dsl.nodes import WaitForEventNode

EVENT_TYPE_FIELD = "event.type"


@dataclass(frozen=True)
class EventInterest:
    """The event types a journey can use; `any_type` when its exit criteria may use any."""

    types: frozenset[str] = frozenset()
    any_type: bool = False

    def wants(self, event_type: str) -> bool:
        return self.any_type or event_type in self.types


def event_interest(document: JourneyDocument) -> EventInterest:
    """The events a run of `document` can use (see the module docstring for the rules)."""
    waited = frozenset(
        node.event_type for node in document.nodes if isinstance(node, WaitForEventNode)
    )
    criteria = document.exit_criteria
    if criteria is None:
        return EventInterest(types=waited)
    exiting = _exit_types(criteria)
    if exiting is None:
        return EventInterest(types=waited, any_type=True)
    return EventInterest(types=waited | exiting)


def _exit_types(criteria: AllOf | AnyOf | NotOf | Leaf) -> frozenset[str] | None:
    """The only event types for which `criteria` can be true, or None when any type can."""
    if isinstance(criteria, Leaf):
        return _leaf_types(criteria)
    if isinstance(criteria, AllOf):
        restricting = [
            types
            for child in criteria.all
            if isinstance(child, Leaf) and (types := _leaf_types(child)) is not None
        ]
        if not restricting:
            return None
        # Every child must hold: the event's type must satisfy each restricting leaf.
        return frozenset.intersection(*restricting)
    return None


def _leaf_types(leaf: Leaf) -> frozenset[str] | None:
    """The types a leaf on `event.type` admits (eq / in a literal), or None if not such a leaf.

    Non-string literals are dropped: an event type is a string and equals no other kind.
    """
    if leaf.field != EVENT_TYPE_FIELD or isinstance(leaf.value, Ref):
        return None
    if leaf.op is Op.EQ:
        return frozenset({leaf.value}) if isinstance(leaf.value, str) else frozenset()
    if leaf.op is Op.IN and isinstance(leaf.value, list):
        return frozenset(item for item in leaf.value if isinstance(item, str))
    return None

"""Loading the bundled examples: journeys (examples/*.json) and the triggers that start them
from Kafka events (examples/triggers/*.json, each naming its journey by name).

Loading is idempotent by name: an example already in the database is left as the user may
have edited it, so a second `journey dev` keeps the data of the first.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from pydantic import Field, ValidationError
from sqlmodel import Session, select

from dsl.document import JourneyDocument
from dsl.triggers import TriggerRule
from dsl.validation import validate_journey
from journey.core.config import Settings
from journey.core.db.engine import create_db_engine, make_session_factory
from journey.core.db.models import Trigger, Workflow
from journey.services.definitions import create_workflow, find_by_name
from journey.services.triggers import create_trigger


@dataclass(frozen=True)
class LoadResult:
    total: int
    added: int
    triggers_total: int = 0
    triggers_added: int = 0


class ExampleTrigger(TriggerRule):
    """A trigger file: the rule plus its name and the name of the journey it starts."""

    name: str = Field(min_length=1, max_length=255)
    journey: str = Field(min_length=1, max_length=255)
    description: str | None = None
    enabled: bool = True


class InvalidExample(ValueError):
    """An example file that does not validate; the message lists every problem."""


def read_examples(directory: Path) -> list[JourneyDocument]:
    documents = []
    for path in sorted(directory.glob("*.json")):
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise InvalidExample(f"{path}: not JSON ({exc})") from exc
        result = validate_journey(data)
        if result.document is None:
            problems = "; ".join(f"{p.path or '/'} {p.code}: {p.message}" for p in result.problems)
            raise InvalidExample(f"{path}: {problems}")
        documents.append(result.document)
    return documents


def read_example_triggers(directory: Path) -> list[ExampleTrigger]:
    triggers = []
    for path in sorted((directory / "triggers").glob("*.json")):
        try:
            triggers.append(ExampleTrigger.model_validate_json(path.read_text()))
        except ValidationError as exc:
            raise InvalidExample(f"{path}: {exc}") from exc
    return triggers


def _add_triggers(session: Session, triggers: list[ExampleTrigger]) -> int:
    existing = set(session.exec(select(Trigger.name)).all())
    added = 0
    for example in triggers:
        if example.name in existing:
            continue
        journey = find_by_name(session, example.journey)
        if journey is None:
            raise InvalidExample(f"trigger {example.name!r}: no journey named {example.journey!r}")
        rule = TriggerRule.model_validate(example.model_dump(include=set(TriggerRule.model_fields)))
        create_trigger(
            session,
            name=example.name,
            description=example.description,
            journey_id=journey.id,
            enabled=example.enabled,
            rule=rule,
        )
        added += 1
    return added


def load_examples(settings: Settings) -> LoadResult:
    documents = read_examples(settings.examples_dir)
    triggers = read_example_triggers(settings.examples_dir)
    engine = create_db_engine(settings.resolved_database_url)
    try:
        with make_session_factory(engine)() as session:
            existing = set(session.exec(select(Workflow.name)).all())
            added = 0
            for document in documents:
                if document.name in existing:
                    continue
                # Active, so `make run` users can start them right away.
                create_workflow(session, document=document, created_by="examples", status="active")
                added += 1
            total = len(session.exec(select(Workflow.id)).all())
            triggers_added = _add_triggers(session, triggers)
            triggers_total = len(session.exec(select(Trigger.id)).all())
    finally:
        engine.dispose()
    return LoadResult(total, added, triggers_total, triggers_added)

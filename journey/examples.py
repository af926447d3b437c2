"""Loading the bundled example journeys (examples/*.json) into the `workflows` table.

Loading is idempotent by name: an example already in the database is left as the user may
have edited it, so a second `journey dev` keeps the data of the first.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from sqlmodel import select

from dsl.document import JourneyDocument
from dsl.validation import validate_journey
from journey.config import Settings
from journey.db.engine import create_db_engine, make_session_factory
from journey.db.models import Workflow
from journey.definitions import create_workflow


@dataclass(frozen=True)
class LoadResult:
    total: int
    added: int


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


def load_examples(settings: Settings) -> LoadResult:
    documents = read_examples(settings.examples_dir)
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
    finally:
        engine.dispose()
    return LoadResult(total=total, added=added)

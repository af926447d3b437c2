"""Stored journey definitions as the interpreter receives them."""

from __future__ import annotations

from sqlmodel import Session, select

from dsl.document import JourneyDocument
from journey.db.models import Workflow
from workflows.models import JourneySnapshot


def snapshot_of(row: Workflow) -> JourneySnapshot:
    """The immutable input of a run: id, version and the validated document."""
    return JourneySnapshot(
        journey_id=str(row.id),
        version=row.version,
        document=JourneyDocument.model_validate(row.definition),
    )


def find_by_name(session: Session, name: str) -> Workflow | None:
    return session.exec(select(Workflow).where(Workflow.name == name)).first()

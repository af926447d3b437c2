"""Stored journey definitions: reading them for runs, and the data functions of the REST gateway.

Every change of a definition writes an immutable `WorkflowVersion` row, so a run keeps the exact
document it started with while `workflows.definition` / `version` mirror the newest one. The
functions here take a session and keyword-only data and raise the domain errors below; the HTTP
layer maps those to problem responses, so this module stays free of FastAPI.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from typing import Literal

from sqlalchemy import String, cast, func
from sqlmodel import Session, col, select

from dsl.document import JourneyDocument
from journey.contracts.runs import JourneySnapshot
from journey.core.db.models import Workflow, WorkflowVersion

VersionBump = Literal["major", "minor", "patch"]
FIRST_VERSION = "1.0.0"

# Explicit status changes: anything not listed is refused (archived is final).
ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    "draft": frozenset({"active", "archived"}),
    "active": frozenset({"inactive", "archived"}),
    "inactive": frozenset({"active", "archived"}),
    "archived": frozenset(),
}

_SEMVER = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")


class DefinitionConflict(ValueError):
    """A change that conflicts with the journey's current state (HTTP 409)."""


class StaleVersion(DefinitionConflict):
    """The caller edited a version that is no longer the current one."""


class ArchivedJourney(DefinitionConflict):
    """Archived journeys are kept for history only and cannot change."""


class TransitionRefused(DefinitionConflict):
    """A status change outside `ALLOWED_TRANSITIONS`."""


def snapshot_of(row: Workflow) -> JourneySnapshot:
    """The immutable input of a run: id, version and the validated document."""
    return JourneySnapshot(
        journey_id=str(row.id),
        version=row.version,
        document=JourneyDocument.model_validate(row.definition),
    )


def find_by_name(session: Session, name: str) -> Workflow | None:
    return session.exec(select(Workflow).where(Workflow.name == name)).first()


def bump_version(version: str, part: VersionBump) -> str:
    """The next semantic version; a non-semver legacy value counts as 1.0.0."""
    match = _SEMVER.match(version)
    major, minor, patch = (int(g) for g in match.groups()) if match else (1, 0, 0)
    if part == "major":
        return f"{major + 1}.0.0"
    if part == "minor":
        return f"{major}.{minor + 1}.0"
    return f"{major}.{minor}.{patch + 1}"


def _dump(document: JourneyDocument) -> dict[str, object]:
    return document.model_dump(mode="json", by_alias=True, exclude_none=True)


def _mirror(row: Workflow, document: JourneyDocument) -> None:
    """Copy the columns that are derived from the document onto the journey row."""
    row.name = document.name
    row.description = document.description
    row.definition = _dump(document)
    row.lifecycle_stages = [str(stage) for stage in document.lifecycle_stages]


def create_workflow(
    session: Session,
    *,
    document: JourneyDocument,
    created_by: str | None,
    status: str = "draft",
    bpmn_source: str | None = None,
) -> Workflow:
    """A new journey (a draft unless said otherwise) at version 1.0.0, with its first
    immutable version row; `bpmn_source` keeps the BPMN it was imported from, verbatim."""
    row = Workflow(
        name=document.name,
        definition={},
        version=FIRST_VERSION,
        status=status,
        bpmn_source=bpmn_source,
    )
    _mirror(row, document)
    session.add(row)
    session.flush()
    _add_version(session, row, created_by)
    session.commit()
    session.refresh(row)
    return row


def _add_version(session: Session, row: Workflow, created_by: str | None) -> None:
    """The immutable copy of the row's current document, under its version."""
    session.add(
        WorkflowVersion(
            workflow_id=row.id,
            version=row.version,
            definition=row.definition,
            created_by=created_by,
        )
    )


def get_workflow(session: Session, *, workflow_id: uuid.UUID) -> Workflow | None:
    return session.get(Workflow, workflow_id)


def list_workflows(
    session: Session,
    *,
    status: str | None = None,
    stage: str | None = None,
    q: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[Sequence[Workflow], int]:
    """One page of journeys, newest first, and the total matching the filters.

    The stage filter matches the column's text form, which is portable across the PostgreSQL
    array and the SQLite JSON list; no stage name is a substring of another.
    """
    conditions = []
    if status is not None:
        conditions.append(col(Workflow.status) == status)
    if stage is not None:
        conditions.append(cast(col(Workflow.lifecycle_stages), String).like(f"%{stage}%"))
    if q:
        escaped = q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        conditions.append(func.lower(col(Workflow.name)).like(f"%{escaped}%", escape="\\"))
    total = session.exec(select(func.count()).select_from(Workflow).where(*conditions)).one()
    rows = session.exec(
        select(Workflow)
        .where(*conditions)
        .order_by(col(Workflow.created_at).desc(), col(Workflow.id))
        .limit(limit)
        .offset(offset)
    ).all()
    return rows, int(total)


def update_workflow(
    session: Session,
    *,
    row: Workflow,
    document: JourneyDocument,
    created_by: str | None,
    bump: VersionBump = "minor",
    expected_version: str | None = None,
) -> Workflow:
    """Store `document` as a new immutable version and make it the journey's current one."""
    if row.status == "archived":
        raise ArchivedJourney(f"journey {row.id} is archived and cannot be edited")
    if expected_version is not None and expected_version != row.version:
        raise StaleVersion(
            f"the journey is at version {row.version}, not {expected_version}; "
            "reload it and apply the change again"
        )
    _backfill_current_version(session, row)
    row.version = bump_version(row.version, bump)
    _mirror(row, document)
    session.add(row)
    _add_version(session, row, created_by)
    session.commit()
    session.refresh(row)
    return row


def _backfill_current_version(session: Session, row: Workflow) -> None:
    """Rows stored before version history existed (migration 0003) have no version row for
    their current document; keep it before it is replaced."""
    if get_version(session, workflow_id=row.id, version=row.version) is None:
        session.add(
            WorkflowVersion(workflow_id=row.id, version=row.version, definition=row.definition)
        )


def list_versions(session: Session, *, workflow_id: uuid.UUID) -> Sequence[WorkflowVersion]:
    """Every stored version of a journey, newest first."""
    return session.exec(
        select(WorkflowVersion)
        .where(WorkflowVersion.workflow_id == workflow_id)
        .order_by(col(WorkflowVersion.created_at).desc(), col(WorkflowVersion.id).desc())
    ).all()


def get_version(
    session: Session, *, workflow_id: uuid.UUID, version: str
) -> WorkflowVersion | None:
    return session.exec(
        select(WorkflowVersion).where(
            WorkflowVersion.workflow_id == workflow_id, WorkflowVersion.version == version
        )
    ).first()


def change_status(session: Session, *, row: Workflow, status: str) -> Workflow:
    """Move a journey along draft → active ⇄ inactive → archived; refuse anything else."""
    if status not in ALLOWED_TRANSITIONS.get(row.status, frozenset()):
        raise TransitionRefused(
            f"a journey cannot move from {row.status} to {status}; from {row.status} it can "
            f"move to {', '.join(sorted(ALLOWED_TRANSITIONS.get(row.status, ()))) or 'nothing'}"
        )
    row.status = status
    session.add(row)
    session.commit()
    session.refresh(row)
    return row

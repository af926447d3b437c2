"""Recorded example runs replay on today's interpreter; a changed interpreter is caught.

Runs in flight when a new worker version deploys are replayed by that version: any change in
the commands the interpreter issues for the same history breaks them. The histories in
tests/histories/ (re-recorded with `python -m tests.histories.record`) pin those commands, and
the second test proves the replay would actually notice a change, so a green replay means
something.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio import workflow

import workflows.registry
from dsl.nodes import EmailNode
from tests.workflows.conftest import EXAMPLES
from tests.workflows.histories import history_paths, journey_replayer, load_history
from workflows.context import RunContext
from workflows.registry import NodeHandler

PATHS = history_paths()


def test_every_example_has_a_recorded_history() -> None:
    """A new example without a recording would silently escape the replay check."""
    assert len(PATHS) >= 5
    assert {path.stem for path in PATHS} >= {path.stem for path in EXAMPLES.glob("*.json")}


@pytest.mark.parametrize("path", PATHS, ids=[path.stem for path in PATHS])
async def test_recorded_history_replays_without_error(path: Path) -> None:
    result = await journey_replayer().replay_workflow(load_history(path))
    assert result.replay_failure is None


async def _email_without_sending(node: EmailNode, _run: RunContext) -> str | None:
    """The deliberate change: an email node that waits a second instead of sending.

    (Only dropping the send is not enough: a local activity that is no longer asked for is not
    always noticed on replay, since its result is a marker the SDK matches by sequence number.
    A timer where the history has the email's activity or marker always is.)"""
    await workflow.sleep(timedelta(seconds=1))
    return str(node.next) if node.next else None


def _with_changed_email(
    handlers: Mapping[str, NodeHandler[Any]],
) -> dict[str, NodeHandler[Any]]:
    return {**handlers, "email": NodeHandler(EmailNode, _email_without_sending)}


@pytest.mark.parametrize("path", PATHS, ids=[path.stem for path in PATHS])
async def test_a_changed_interpreter_fails_replay_with_nondeterminism(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # workflows.registry is imported through the sandbox (imports_passed_through), so the
    # replayed workflow looks handlers up in this very module object: the patch reaches it.
    changed = _with_changed_email(workflows.registry.NODE_HANDLERS)
    monkeypatch.setattr(workflows.registry, "NODE_HANDLERS", changed)

    result = await journey_replayer().replay_workflow(
        load_history(path), raise_on_replay_failure=False
    )

    assert isinstance(result.replay_failure, workflow.NondeterminismError), result.replay_failure

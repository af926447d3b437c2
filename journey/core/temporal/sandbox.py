"""Which workflow runner a worker uses: one choice, shared by `journey worker` and simulations."""

from __future__ import annotations

from temporalio.worker import UnsandboxedWorkflowRunner, WorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from journey.core.config import Settings


def workflow_runner(settings: Settings) -> WorkflowRunner:
    """The sandbox re-imports workflow modules for every run; see Settings.workflow_sandbox."""
    return SandboxedWorkflowRunner() if settings.workflow_sandbox else UnsandboxedWorkflowRunner()

"""Starting runs and mirroring them: the start (`starter`), reservations, idempotency and the
`workflow_executions` mirror (`executions`)."""

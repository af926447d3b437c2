"""`webhook`: an HTTP call; `save_as` keeps the response body in the run's variables.

Secret header values and the signing secret are passed by name only: the activity input is
recorded in workflow history, and the activity resolves the values from the worker's settings.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    import journey.contracts.actions as c
    from dsl.nodes.webhook import WebhookNode
    from workflows.context import RunContext


async def run(node: WebhookNode, ctx: RunContext) -> str | None:
    result = await ctx.act(
        node,
        c.CALL_WEBHOOK,
        c.CallWebhookInput(
            meta=ctx.action_meta(node.id),
            method=node.method,
            url=node.url,
            headers=node.template_headers(),
            secret_headers=node.secret_headers(),
            signing_secret=node.signing_secret,
            body=node.body,
            request_timeout_seconds=node.request_timeout.total_seconds(),
            accept_status=node.accept_status,
            context=ctx.template_context(),
        ),
        c.CallWebhookResult,
    )
    if node.save_as:
        ctx.variables[node.save_as] = result.body
    return node.next

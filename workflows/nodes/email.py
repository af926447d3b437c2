"""`email`: render and send through SMTP (the activity renders; the workflow never does)."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    import journey.contracts.actions as c
    from dsl.nodes.email import EmailNode
    from workflows.context import RunContext


async def run(node: EmailNode, ctx: RunContext) -> str | None:
    await ctx.act(
        node,
        c.SEND_EMAIL,
        c.SendEmailInput(
            meta=ctx.action_meta(node.id),
            to=node.to,
            from_address=node.from_,
            subject=node.subject,
            text=node.text,
            html=node.html,
            reply_to=node.reply_to,
            context=ctx.template_context(),
        ),
        c.SendEmailResult,
    )
    return node.next

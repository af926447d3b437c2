"""The hand-written baselines: workflows as a team would write them directly on Temporal.

Kept apart from the scenarios because a workflow module is re-imported in the SDK's sandbox,
which must not see the scenarios' I/O imports (database, HTTP, SMTP).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel


class BaselineInput(BaseModel):
    user_id: str
    hook_url: str


class Profile(BaseModel):
    id: str
    email: str | None
    attributes: dict[str, Any]


@workflow.defn(name="bench.HandWrittenJourney")
class HandWrittenJourney:
    @workflow.run
    async def run(self, request: BaselineInput) -> str:
        timeout = timedelta(seconds=30)
        user = await workflow.execute_activity(
            "bench.load_user",
            request.user_id,
            result_type=Profile,
            start_to_close_timeout=timeout,
        )
        # The same condition as the journey's; both branches go on to the same steps.
        _ = user.attributes.get("plan") == "pro"
        await workflow.execute_activity(
            "bench.increment_visits", request.user_id, start_to_close_timeout=timeout
        )
        body = {"user": user.id, "plan": user.attributes.get("plan")}
        await workflow.execute_activity(
            "bench.post_webhook", args=[request.hook_url, body], start_to_close_timeout=timeout
        )
        await workflow.execute_activity(
            "bench.send_email",
            args=[user.email, f"Hi {user.id}, welcome."],
            start_to_close_timeout=timeout,
        )
        return "completed"

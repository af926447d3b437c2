"""email_throttle: does the email task queue hold its configured global rate?

N one-email journeys start at once with `email_max_per_second` set; "ours" is the rate at
which the SMTP server received the mail, "baseline" the configured rate. A ratio at or just
under 1.0 means the limit holds; well above 1.0 means it leaks.
"""

from __future__ import annotations

import asyncio
import uuid

from bench.core import Result, Scenario, Size, settled
from bench.stack import bench_stack
from dsl.validation import validate_journey
from journey.contracts.runs import JourneySnapshot
from journey.core.config import Settings
from journey.core.db.models import User
from journey.services.runs.starter import start_run
from worker import journey_worker

ONE_EMAIL = {
    "name": "one email",
    "start": "mail",
    "nodes": [
        {
            "id": "mail",
            "type": "email",
            "to": "{{ user.email }}",
            "subject": "hi",
            "text": "x",
            "next": "fin",
        },
        {"id": "fin", "type": "end"},
    ],
}


async def run(settings: Settings, size: Size) -> list[Result]:
    rate = float(size.extra["rate"])
    n = size.n
    async with bench_stack(settings, email_max_per_second=rate) as stack:
        with stack.session_factory() as session:
            session.add_all(User(id=f"u{i}", email=f"u{i}@example.com") for i in range(n))
            session.commit()
        document = validate_journey(ONE_EMAIL).document
        assert document is not None
        journey = JourneySnapshot(journey_id="bench", version="1", document=document)
        queue = f"bench-{uuid.uuid4().hex[:8]}"
        async with journey_worker(
            stack.client, stack.settings, stack.session_factory, task_queue=queue
        ):
            started = await asyncio.gather(
                *(
                    start_run(
                        stack.client,
                        task_queue=queue,
                        snapshot=journey,
                        user_id=f"u{i}",
                        workflow_id=f"{queue}-{i}",
                        throttled_actions=stack.settings.throttled_actions,
                    )
                    for i in range(n)
                )
            )
            await asyncio.gather(
                *(
                    settled(stack.client.get_workflow_handle(f"{queue}-{i}", run_id=run_id))
                    for i, (run_id, _) in enumerate(started)
                )
            )
        arrivals = sorted(stack.mail.arrivals)
    if len(arrivals) != n:
        raise AssertionError(f"expected {n} mails, the SMTP server received {len(arrivals)}")
    # Temporal's task-queue limit is a token bucket that starts full: about a second's worth
    # of mail goes out at once. The rate that holds is the one after that burst.
    burst = min(int(rate), n - 2)
    span = arrivals[-1] - arrivals[burst]
    achieved = (n - 1 - burst) / span if span > 0 else float("inf")
    notes = {
        "meaning": "<= 1.0: the configured global rate holds",
        "after_first": burst,
        "first_second": sum(1 for t in arrivals if t - arrivals[0] < 1.0),
    }
    return [Result("email_throttle", achieved, rate, "emails/s", n, better="lower", notes=notes)]


SCENARIO = Scenario(
    name="email_throttle",
    description="achieved email rate vs the configured email_max_per_second (global limit)",
    run=run,
    quick=Size(quick=True, n=30, extra={"rate": 10.0}),
    full=Size(quick=False, n=100, extra={"rate": 20.0}),
)

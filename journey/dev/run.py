"""Running the dev stack in the foreground: start, banner, wait for a signal or a crash, stop.

Exit codes: 0 after Ctrl-C/SIGTERM or a passing smoke run, 1 when a component fails.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from rich.console import Console
from rich.panel import Panel

from journey.core.config import Settings
from journey.core.runtime import stop_event_on_signals
from journey.dev.processes import StackError
from journey.dev.smoke import CheckResult, run_smoke
from journey.dev.stack import DevStack

console = Console(highlight=False, soft_wrap=True)
# Long enough for a working day with the stack up; `journey token create` makes more.
DEV_TOKEN_TTL = timedelta(hours=12)


def _report(component: str, detail: str) -> None:
    console.print(f"[green]✓[/green] [bold]{component:<9}[/bold] {detail}")


def banner(settings: Settings) -> Panel:
    send = "journey events send --type signup --user u1 --prop plan=pro"
    lines = [
        f"API docs      {settings.api_url}/docs",
        f"Health        {settings.api_url}/health",
        f"Temporal UI   {settings.resolved_temporal_ui_url}",
        f"Kafka broker  {settings.resolved_kafka_bootstrap}",
        f"Events topic  {settings.kafka_events_topic}",
        f"Mail folder   {settings.resolved_mail_dir}/new"
        if settings.embedded_smtp
        else f"SMTP relay    {settings.smtp_host}:{settings.smtp_port}",
        f"Logs          {settings.data_dir}/logs",
        "",
        "Send an example event (in another terminal):",
        f"  .venv/bin/{send}",
    ]
    return Panel("\n".join(lines), title="Journey is running", border_style="green")


def _duration(ttl: timedelta) -> str:
    minutes = int(ttl.total_seconds() // 60)
    return f"{minutes // 60} h" if minutes % 60 == 0 else f"{minutes} min"


def token_lines(settings: Settings) -> list[str]:
    """The admin token and a curl using it, printed outside the panel so nothing wraps them."""
    from api.auth import Role, create_token, max_token_lifetime

    if settings.auth_disabled:
        return ["Auth is DISABLED (JOURNEY_AUTH_DISABLED=true): no token needed.", ""]
    # Never longer than the gateway accepts (JOURNEY_JWT_MAX_TTL_MINUTES).
    ttl = min(DEV_TOKEN_TTL, max_token_lifetime(settings))
    token = create_token(settings, subject="dev-admin", role=Role.admin, ttl=ttl)
    return [
        f"Admin token (valid {_duration(ttl)}; more with `journey token create --role ROLE`,",
        f"JOURNEY_JWT_SECRET is in {settings.data_dir}/jwt-secret unless you set it):",
        f"  {token}",
        "Try it:",
        f'  curl -H "Authorization: Bearer {token}" {settings.api_url}/api/workflows',
        "",
    ]


async def _race(work: asyncio.Future[Any], stop: asyncio.Event) -> bool:
    """Run `work` until it finishes (True) or a stop signal arrives first (False)."""
    stopper = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait({work, stopper}, return_when=asyncio.FIRST_COMPLETED)
    if work in done:
        stopper.cancel()
        work.result()
        return True
    work.cancel()
    return False


async def run_dev(settings: Settings, *, smoke: bool = False) -> int:
    stop = stop_event_on_signals()
    stack = DevStack(settings, _report)
    try:
        stack.preflight()
        if not await _race(asyncio.ensure_future(stack.start()), stop):
            console.print("journey dev: stopped while starting")
            return 0
        if smoke:
            return _summarise(await run_smoke(stack))
        console.print(banner(stack.settings))
        for line in token_lines(stack.settings):
            console.print(line, markup=False)
        console.print("Ctrl-C stops everything.")
        crash = asyncio.ensure_future(stack.wait_for_crash())
        if await _race(crash, stop):
            child = crash.result()
            console.print(
                f"[red]journey dev: {child.name} exited with code {child.returncode}: "
                f"{child.last_output()} — see {child.log_path}[/red]"
            )
            return 1
        console.print("journey dev: stopping")
        return 0
    except StackError as exc:
        console.print(f"[red]journey dev: {exc.one_line()}[/red]")
        return 1
    finally:
        await stack.stop()


def _summarise(results: list[CheckResult]) -> int:
    failed = [r for r in results if not r.ok]
    for result in results:
        mark = "[green]PASS[/green]" if result.ok else "[red]FAIL[/red]"
        console.print(f"{mark} {result.name:<16} {result.detail}")
    verdict = "smoke passed" if not failed else f"smoke failed: {', '.join(r.name for r in failed)}"
    console.print(f"journey dev --smoke: {verdict} ({len(results) - len(failed)}/{len(results)})")
    return 1 if failed else 0

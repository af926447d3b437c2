"""Serving the gateway with uvicorn (`journey api`), announcing readiness once it listens.

Two server settings are security decisions, not defaults to inherit:
- Proxy headers: uvicorn believes `X-Forwarded-For` from 127.0.0.1 unless told otherwise, and
  the client address it yields keys the failed-auth rate limit; one caller rotating the header
  got a fresh limit per request. Only `api_trusted_proxies` are believed (none by default).
- The request head: h11 refuses a head it cannot parse yet once more than
  `h11_max_incomplete_event_size` bytes wait, but takes any size that arrives in one read; the
  app answers 414/431 (api/guards.py), and the access log, which prints the request line as
  sent, keeps at most ACCESS_LOG_MAX_ARG_CHARS of each field.
"""

from __future__ import annotations

import asyncio
import logging

import uvicorn

from api.main import create_app
from journey.core.config import Settings
from journey.core.runtime import announce_ready

ACCESS_LOG_MAX_ARG_CHARS = 2048
# What h11 may buffer of a request head beyond the URL and header limits (the request line's
# method and version, the blank line), so the app's 414/431 is what an over-limit client sees.
HEAD_SLACK_BYTES = 1024


class BoundedAccessLog(logging.Filter):
    """Cuts each argument of an access-log record (client, method, path, ...) to a bound."""

    def __init__(self, max_chars: int = ACCESS_LOG_MAX_ARG_CHARS) -> None:
        super().__init__()
        self.max_chars = max_chars

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(self._bounded(arg) for arg in record.args)
        return True

    def _bounded(self, arg: object) -> object:
        if isinstance(arg, str) and len(arg) > self.max_chars:
            return f"{arg[: self.max_chars]}...[{len(arg)} chars]"
        return arg


def bound_access_log() -> None:
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, BoundedAccessLog) for f in access.filters):
        access.addFilter(BoundedAccessLog())


def uvicorn_config(settings: Settings, *, port: int | None = None) -> uvicorn.Config:
    """The gateway's server configuration (`port`: instead of `api_port`, for tests)."""
    config = uvicorn.Config(
        create_app(settings),
        host=settings.api_host,
        port=settings.api_port if port is None else port,
        log_level=settings.log_level.lower(),
        # JSON logs: uvicorn's own loggers go through the root handler (journey/core/telemetry).
        log_config=None if settings.log_format == "json" else uvicorn.config.LOGGING_CONFIG,
        lifespan="on",
        proxy_headers=bool(settings.api_trusted_proxies),
        forwarded_allow_ips=settings.api_trusted_proxies,
        h11_max_incomplete_event_size=(
            settings.api_max_url_bytes + settings.api_max_header_bytes + HEAD_SLACK_BYTES
        ),
    )
    bound_access_log()  # after Config, which applies uvicorn's logging configuration
    return config


async def serve(settings: Settings) -> None:
    server = uvicorn.Server(uvicorn_config(settings))
    serving = asyncio.create_task(server.serve())
    while not server.started:
        if serving.done():
            await serving
            raise SystemExit(f"api: could not start on {settings.api_url}")
        await asyncio.sleep(0.05)
    announce_ready("api", settings.api_url)
    await serving


def main(settings: Settings) -> None:
    asyncio.run(serve(settings))

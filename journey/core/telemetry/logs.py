"""Structured logs: every line says which trace, run and event it belongs to, where known.

`ContextFilter` adds, to every record a handler emits:

- `trace_id` / `span_id` of the current OpenTelemetry span (hex, as tracing backends show
  them), so a log line leads to its trace;
- `workflow_id` / `run_id` from the extras Temporal's `activity.logger` and `workflow.logger`
  attach, or from the running activity for plain `logging` calls inside an activity;
- `event_id` of the Kafka event the consumer is handling (`bind_event_id`).

With `JOURNEY_LOG_FORMAT=json` each record is one JSON object per line (python-json-logger),
with those fields at the top level next to `time`, `level`, `logger` and `message`.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import IO, Any

from opentelemetry import trace
from pythonjsonlogger.json import JsonFormatter
from temporalio import activity

__all__ = [
    "ContextFilter",
    "bind_event_id",
    "configure_logging",
    "event_scope",
    "log_handler",
    "quiet_wire_loggers",
]

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
JSON_FIELDS = "%(levelname)s %(name)s %(message)s"
JSON_RENAMES = {"levelname": "level", "name": "logger"}

_event_id: ContextVar[str | None] = ContextVar("journey_event_id", default=None)


@contextmanager
def event_scope() -> Iterator[None]:
    """Log lines inside belong to the event named by `bind_event_id` (none until then); the
    previous value comes back on exit, so one task can handle events one after another."""
    token = _event_id.set(None)
    try:
        yield
    finally:
        _event_id.reset(token)


def bind_event_id(event_id: str) -> None:
    _event_id.set(event_id)
    trace.get_current_span().set_attribute("journey.event.id", event_id)


class ContextFilter(logging.Filter):
    """Adds trace, run and event ids to a record (never drops one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            record.trace_id = format(context.trace_id, "032x")
            record.span_id = format(context.span_id, "016x")
        workflow_id, run_id = _run_of(record)
        if workflow_id:
            record.workflow_id = workflow_id
        if run_id:
            record.run_id = run_id
        event_id = _event_id.get()
        if event_id is not None:
            record.event_id = event_id
        return True


def _run_of(record: logging.LogRecord) -> tuple[str | None, str | None]:
    details: Any = getattr(record, "temporal_activity", None)
    if isinstance(details, dict):
        return details.get("workflow_id"), details.get("workflow_run_id")
    details = getattr(record, "temporal_workflow", None)
    if isinstance(details, dict):
        return details.get("workflow_id"), details.get("run_id")
    if activity.in_activity():
        info = activity.info()
        return info.workflow_id, info.workflow_run_id
    return None, None


def log_handler(log_format: str, stream: IO[str] | None = None) -> logging.Handler:
    """A handler writing `json` or `text` lines to `stream` (stderr), with the ids above."""
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    if log_format == "json":
        # `time`: ISO 8601 in UTC, which log shippers parse without a pattern.
        formatter = JsonFormatter(JSON_FIELDS, rename_fields=JSON_RENAMES, timestamp="time")
        handler.setFormatter(formatter)
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    handler.addFilter(ContextFilter())
    return handler


# Loggers that write raw wire data at DEBUG: httpcore traces whole response headers and quotes
# malformed ones, i.e. whatever a webhook receiver sends (a secret it echoes back, say).
WIRE_LOGGERS = ("httpcore",)


def quiet_wire_loggers() -> None:
    """Keep the wire loggers at INFO whatever the level: what they would add is the data that
    Journey's own messages redact (activities/webhook_secrets.py)."""
    for name in WIRE_LOGGERS:
        logging.getLogger(name).setLevel(logging.INFO)


def configure_logging(level: str, log_format: str = "text") -> None:
    """The root logger of a service process (a no-op when logging is already configured)."""
    logging.basicConfig(level=level.upper(), handlers=[log_handler(log_format)])
    quiet_wire_loggers()

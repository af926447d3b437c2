"""Which failures mean "wait and retry the same event" rather than "this event is bad"."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from temporalio.service import RPCError, RPCStatusCode

TRANSIENT_RPC = frozenset(
    {
        RPCStatusCode.UNAVAILABLE,
        RPCStatusCode.DEADLINE_EXCEEDED,
        RPCStatusCode.RESOURCE_EXHAUSTED,
        RPCStatusCode.ABORTED,
        RPCStatusCode.CANCELLED,
        RPCStatusCode.UNKNOWN,
        RPCStatusCode.INTERNAL,
    }
)


def is_transient(exc: BaseException) -> bool:
    """Temporal, the database or the broker being unreachable or overloaded."""
    if isinstance(exc, RPCError):
        return exc.status in TRANSIENT_RPC
    if isinstance(exc, OperationalError | InterfaceError | DisconnectionError | PoolTimeout):
        return True
    if isinstance(exc, DBAPIError):
        return bool(exc.connection_invalidated)
    if isinstance(exc, ConnectionError | TimeoutError):
        return True
    # A lazy Temporal client that cannot reach the server raises this on its first call.
    return isinstance(exc, RuntimeError) and "client connect" in str(exc).lower()

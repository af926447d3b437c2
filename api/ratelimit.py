"""Per-caller request limits: a token bucket per subject (or client address), in memory.

A token bucket of `api_rate_limit_per_minute` tokens, refilled continuously, allows short bursts
up to the limit and a steady rate of limit/minute; beyond it the gateway answers 429 with a
`Retry-After` telling the caller when the next request will be accepted.

Why not the `limits` package: the gateway needs one in-process, per-key counter and the exact
wait time for `Retry-After`; that is ~40 lines here, versus a new runtime dependency whose
storage and strategy abstractions we would not use. The state is per process: with several
gateway replicas each enforces the limit on its own (a shared store would be the next step).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import HTTPException, status
from fastapi.requests import HTTPConnection

from journey.core.config import Settings

# Buckets that are full again carry no information; they are dropped once this many exist.
SWEEP_THRESHOLD = 10_000


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """`limit` requests per `period` seconds per key; thread-safe, monotonic clock."""

    def __init__(
        self, limit: int, period: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.rate = limit / period  # tokens per second
        self.clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def acquire(self, key: str) -> float:
        """Take one token for `key`: 0.0 when allowed, else the seconds until one is free."""
        now = self.clock()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                if len(self._buckets) >= SWEEP_THRESHOLD:
                    self._sweep(now)
                bucket = self._buckets[key] = _Bucket(float(self.limit), now)
            else:
                elapsed = now - bucket.updated
                bucket.tokens = min(float(self.limit), bucket.tokens + elapsed * self.rate)
                bucket.updated = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0.0
            return (1.0 - bucket.tokens) / self.rate

    def _sweep(self, now: float) -> None:
        full = [
            key
            for key, bucket in self._buckets.items()
            if bucket.tokens + (now - bucket.updated) * self.rate >= self.limit
        ]
        for key in full:
            del self._buckets[key]


_lock = threading.Lock()


def limiter_for(connection: HTTPConnection, settings: Settings) -> RateLimiter | None:
    """The app's limiter, made on first use (None when the limit is 0, i.e. off)."""
    if settings.api_rate_limit_per_minute == 0:
        return None
    app_state = connection.app.state
    with _lock:
        limiter: RateLimiter | None = getattr(app_state, "rate_limiter", None)
        if limiter is None or limiter.limit != settings.api_rate_limit_per_minute:
            limiter = RateLimiter(settings.api_rate_limit_per_minute)
            app_state.rate_limiter = limiter
    return limiter


def enforce_rate_limit(connection: HTTPConnection, settings: Settings, key: str) -> None:
    """Charge one request (or WebSocket connection) to `key`; HTTP 429 with Retry-After (whole
    seconds) when over."""
    limiter = limiter_for(connection, settings)
    if limiter is None:
        return
    wait = limiter.acquire(key)
    if wait > 0:
        retry_after = max(1, math.ceil(wait))
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            f"rate limit of {limiter.limit} requests per minute exceeded; retry in {retry_after} s",
            headers={"Retry-After": str(retry_after)},
        )

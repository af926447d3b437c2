"""Per-token rate limits: 429 with Retry-After once a caller exceeds its requests per minute."""

from __future__ import annotations

from api.auth import Role
from api.ratelimit import RateLimiter
from tests.api.auth_helpers import auth_settings, bearer, probe_client
from tests.harness.env import JourneyEnv


async def test_the_fourth_request_of_a_minute_is_429_with_retry_after(
    journey_env: JourneyEnv,
) -> None:
    settings = auth_settings(journey_env.settings, api_rate_limit_per_minute=3)
    alice = bearer(settings, Role.viewer, subject="alice")
    bob = bearer(settings, Role.viewer, subject="bob")
    async with probe_client(settings) as api:
        for _ in range(3):
            assert (await api.get("/api/_probe/viewer", headers=alice)).status_code == 200
        limited = await api.get("/api/_probe/viewer", headers=alice)
        assert limited.status_code == 429
        assert int(limited.headers["retry-after"]) >= 1
        # Another token has its own budget; public routes are never limited.
        assert (await api.get("/api/_probe/viewer", headers=bob)).status_code == 200
        for _ in range(5):
            assert (await api.get("/openapi.json")).status_code == 200


async def test_failed_logins_are_limited_per_client(journey_env: JourneyEnv) -> None:
    settings = auth_settings(journey_env.settings, api_rate_limit_per_minute=2)
    async with probe_client(settings) as api:
        wrong = {"Authorization": "Bearer guess"}
        statuses = [(await api.get("/api/_probe/viewer", headers=wrong)).status_code for _ in "123"]
    assert statuses == [401, 401, 429]


async def test_zero_turns_the_limit_off(journey_env: JourneyEnv) -> None:
    settings = auth_settings(journey_env.settings, api_rate_limit_per_minute=0)
    headers = bearer(settings, Role.viewer)
    async with probe_client(settings) as api:
        for _ in range(20):
            assert (await api.get("/api/_probe/viewer", headers=headers)).status_code == 200


def test_bucket_refills_at_the_configured_rate() -> None:
    now = [1000.0]
    limiter = RateLimiter(3, clock=lambda: now[0])
    assert [limiter.acquire("k") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.acquire("k") == 20.0  # one token per 20 s at 3/minute
    now[0] += 20.0
    assert limiter.acquire("k") == 0.0
    assert limiter.acquire("other") == 0.0

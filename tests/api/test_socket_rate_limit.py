"""Opening the journey WebSocket is charged to the caller's rate limit, like a request.

Against the gateway on uvicorn with a real WebSocket client (`websockets`); the limit is 2 per
minute, so the third connection of a caller is the one refused. A socket that authenticates
reaches the journey lookup, which closes it with 4404 here (no such journey): that close code
is how the test tells "let in" from "refused".
"""

from __future__ import annotations

import json
import uuid

import pytest
import websockets

from api.auth import Role
from tests.api.auth_helpers import auth_settings, bearer
from tests.api.live_server import serve_api
from tests.harness.env import JourneyEnv

LIMIT = 2


async def close_code(url: str, *, headers: dict[str, str] | None = None, first: str = "") -> int:
    """Open a socket (sending `first` as its first message when given), return its close code."""
    async with websockets.connect(url, additional_headers=headers) as socket:
        if first:
            await socket.send(first)
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await socket.recv()
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code


async def test_a_caller_over_its_limit_is_refused_at_the_handshake_or_closed_with_4429(
    journey_env: JourneyEnv,
) -> None:
    settings = auth_settings(journey_env.settings, api_rate_limit_per_minute=LIMIT)
    alice = bearer(settings, Role.viewer, subject="alice")
    alice_token = alice["Authorization"].removeprefix("Bearer ")
    async with serve_api(settings) as base:
        url = base.replace("http://", "ws://") + f"/api/workflows/{uuid.uuid4()}/executions/ws"
        assert [await close_code(url, headers=alice) for _ in range(LIMIT)] == [4404] * LIMIT
        with pytest.raises(websockets.InvalidStatus) as refused:
            async with websockets.connect(url, additional_headers=alice):
                pass
        assert refused.value.response.status_code == 429
        assert int(refused.value.response.headers["Retry-After"]) >= 1
        # The token sent as the first message spends the same budget.
        assert await close_code(url, first=json.dumps({"token": alice_token})) == 4429
        # Another caller has a budget of its own.
        assert await close_code(url, headers=bearer(settings, Role.viewer, subject="bob")) == 4404
        # Failed attempts are charged to the client address, which slows down token guessing.
        guesses = [await close_code(url, first=json.dumps({"token": "guess"})) for _ in "123"]
        assert guesses == [4401, 4401, 4429]

"""No input makes the gateway answer 5xx: schemathesis fuzzes every operation in the schema.

The app runs in process (ASGI) against this session's test servers, with an admin token so the
requests reach the handlers instead of stopping at 401. The operations come from the live
OpenAPI document, so routes added later are covered without touching this file. Examples are
bounded to keep the run well under a minute.
"""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings

from api.auth import Role, create_token
from api.main import create_app
from journey.core.kafka.clients import ensure_topics
from tests.api.auth_helpers import auth_settings
from tests.harness.env import JourneyEnv

MAX_EXAMPLES = 15
CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.response_schema_conformance,
]


def _api_schema(env: JourneyEnv) -> tuple[Any, dict[str, str]]:
    ensure_topics(env.settings)  # so /health answers 200 and matches its schema
    app_settings = auth_settings(env.settings)
    token = create_token(app_settings, subject="schemathesis", role=Role.admin)
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(app_settings))
    return schema, {"Authorization": f"Bearer {token}"}


def test_no_input_makes_the_api_fail(journey_env: JourneyEnv) -> None:
    """One hypothesis run per operation; every failing operation is reported, not just one.

    (schemathesis' pytest fixture integration does not work with this pytest version, so the
    operations are iterated directly.)
    """
    schema, headers = _api_schema(journey_env)
    failures: dict[str, str] = {}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert operations, "the schema lists no operations"
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def fuzz(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS)

        try:
            fuzz()
        except Exception as exc:  # collect, so one run names every broken operation
            failures[operation.label] = str(exc)[:2000]
    assert not failures, "\n\n".join(f"{label}:\n{error}" for label, error in failures.items())

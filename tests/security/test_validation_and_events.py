"""Issue 22, findings 4, 7 and 9: what one submitted document or event may cost, and that what
the API accepts the consumer accepts too.

4. A 10,000-node journey took 106 s and 3.2 GB to validate (a viewer may ask). Journeys now
   have at most MAX_NODES nodes (a 422 before any graph rule runs), and the graph rules do work
   linear in the document: counted here as the lines of `dsl` executed, for a document at half
   the limit and at the limit (a quadratic rule does four times the work, a linear one twice).
7. `POST /api/events` accepted a 900 KB event that the consumer then dead-lettered as
   oversized. The API now applies the consumer's limit to the same bytes: 413.
9. A NUL in a user id (from Kafka) was accepted and mapped to `_` in the workflow id, so two
   users shared one run id. User ids are now printable everywhere they are accepted (dsl.common
   UserId); the consumer dead-letters an envelope with such an id, naming the field.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from confluent_kafka import TIMESTAMP_CREATE_TIME, Message
from pydantic import SecretStr

from api.auth import Role, create_token
from dsl.document import MAX_NODES
from dsl.events import EventEnvelope
from dsl.validation import validate_journey
from journey.contracts.ids import journey_workflow_id, trigger_workflow_id
from journey.core.config import Settings
from journey.core.kafka.clients import ensure_topics
from journey.ingest.envelopes import PoisonMessage, encoded, parse_message
from tests.api.conftest import ApiClientFactory
from tests.api.test_events import on_topic, topic_size
from tests.harness.env import JourneyEnv
from tests.security.graph_shapes import SHAPES, chain

REPO = Path(__file__).resolve().parents[2]
PROBLEM_JSON = "application/problem+json"
EVENT_LIMIT = 4096  # a small event_max_bytes, so the tests send kilobytes, not megabytes

# ---- finding 4: node limit, linear graph rules ----------------------------------------------


def lines_in_fresh_interpreter(shape: str, size: int) -> int:
    """`dsl_lines` of one document, counted in a new interpreter: a line tracer in a test
    process full of other tests' threads and a timeout signal is neither quiet nor fast."""
    script = (
        "from tests.security.graph_shapes import SHAPES, dsl_lines\n"
        f"print(dsl_lines(SHAPES[{shape!r}]({size})))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=110
    )
    assert result.returncode == 0, result.stderr
    return int(result.stdout)


@pytest.mark.parametrize("shape", SHAPES)
def test_validation_work_grows_linearly_up_to_the_node_limit(shape: str) -> None:
    assert len(SHAPES[shape](MAX_NODES)["nodes"]) <= MAX_NODES
    half = lines_in_fresh_interpreter(shape, MAX_NODES // 2)
    full = lines_in_fresh_interpreter(shape, MAX_NODES)
    # Twice the nodes: about twice the work (the old rules did about four times).
    assert full < 2.5 * half


@pytest.mark.parametrize("shape", ["chain", "fan", "parallels"])
def test_a_journey_at_the_node_limit_is_valid(shape: str) -> None:
    result = validate_journey(SHAPES[shape](MAX_NODES))
    assert result.ok, result.problems[:3]


def test_one_node_over_the_limit_is_the_only_problem() -> None:
    document = chain(MAX_NODES + 1)
    document["nodes"][0]["next"] = "nowhere"  # not reported: nothing past the count is checked
    [problem] = validate_journey(document).problems
    assert (problem.path, problem.code) == ("/nodes", "too_many_nodes")
    assert f"at most {MAX_NODES}" in problem.message
    assert str(MAX_NODES + 1) in problem.message


# ---- the API ----------------------------------------------------------------------------------


@pytest.fixture
def api_settings(journey_env: JourneyEnv) -> Settings:
    topic = f"events-{uuid.uuid4().hex[:8]}"
    settings = journey_env.settings.model_copy(
        update={
            "jwt_secret": SecretStr("k" * 32),
            "kafka_events_topic": topic,
            "event_max_bytes": EVENT_LIMIT,
        }
    )
    ensure_topics(settings, [topic])
    return settings


@pytest_asyncio.fixture
async def http(
    api_settings: Settings, api_client_for: ApiClientFactory
) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client_for(api_settings) as client:
        yield client


def as_role(settings: Settings, role: Role) -> dict[str, str]:
    return {"Authorization": f"Bearer {create_token(settings, subject='attacker', role=role)}"}


def problem_paths(response: httpx.Response) -> set[str]:
    body = response.json()
    return {entry["path"] for entry in body.get("errors", body.get("problems", []))}


async def test_the_api_refuses_a_journey_over_the_node_limit_before_checking_it(
    http: httpx.AsyncClient, api_settings: Settings
) -> None:
    document = chain(MAX_NODES + 1)
    viewer, editor = as_role(api_settings, Role.viewer), as_role(api_settings, Role.editor)
    checked = await http.post(
        "/api/workflows/validate", json={"definition": document}, headers=viewer
    )
    assert checked.status_code == 200, checked.text
    assert checked.json()["valid"] is False
    [problem] = checked.json()["problems"]
    assert (problem["path"], problem["code"]) == ("/nodes", "too_many_nodes")
    assert f"at most {MAX_NODES}" in problem["message"]
    for path, body in [
        ("/api/workflows", {"definition": document}),
        ("/api/workflows/execute", {"user_id": "ada", "document": document}),
    ]:
        refused = await http.post(path, json=body, headers=editor)
        assert refused.status_code == 422, (path, refused.text)
        assert refused.headers["content-type"].startswith(PROBLEM_JSON)
        assert "too_many_nodes" in refused.text and f"at most {MAX_NODES}" in refused.text


# ---- finding 7: the API refuses what the consumer would dead-letter ---------------------------


def padded_event(size: int, user_id: str = "ada") -> EventEnvelope:
    """An event whose message value (what the consumer measures) is exactly `size` bytes."""
    event = EventEnvelope(
        id="evt-pad",
        type="signup",
        user_id=user_id,
        timestamp="2026-01-01T00:00:00Z",
        properties={"pad": ""},
    )
    event.properties["pad"] = "x" * (size - len(encoded(event)))
    assert len(encoded(event)) == size
    return event


def as_message(value: bytes) -> Message:
    try:
        return Message(
            topic="events",
            partition=0,
            offset=1,
            key=b"k",
            value=value,
            timestamp=(TIMESTAMP_CREATE_TIME, 1_767_225_600_000),
        )
    except TypeError:  # older confluent-kafka cannot build one
        pytest.skip("this confluent-kafka cannot construct a Message")


async def test_an_event_the_consumer_would_drop_as_oversized_is_refused_with_413(
    http: httpx.AsyncClient, api_settings: Settings
) -> None:
    operator = as_role(api_settings, Role.operator)
    too_large = padded_event(EVENT_LIMIT + 1)
    with pytest.raises(PoisonMessage, match="oversized"):  # the consumer's verdict on it
        parse_message(as_message(encoded(too_large)), max_bytes=EVENT_LIMIT)
    body = too_large.model_dump(mode="json")
    for path in ("/api/events", "/api/metrics/events"):
        refused = await http.post(path, json=body, headers=operator)
        assert refused.status_code == 413, (path, refused.text)
        assert refused.headers["content-type"].startswith(PROBLEM_JSON)
        assert str(EVENT_LIMIT) in refused.json()["detail"]
    batch = {"events": [padded_event(200).model_dump(mode="json"), body]}
    refused = await http.post("/api/events/batch", json=batch, headers=operator)
    assert refused.status_code == 413, refused.text
    assert "/events/1" in refused.json()["detail"]
    delivered = await http.post(
        f"/api/executions/{uuid.uuid4()}/events", json=body, headers=operator
    )
    assert delivered.status_code == 413, delivered.text
    assert topic_size(api_settings) == 0  # nothing reached the topic

    # Exactly at the limit: accepted, and the message on the topic is one the consumer takes.
    at_limit = padded_event(EVENT_LIMIT)
    accepted = await http.post(
        "/api/events", json=at_limit.model_dump(mode="json"), headers=operator
    )
    assert accepted.status_code == 202, accepted.text
    [(_, published)] = on_topic(api_settings, 1)
    assert (
        parse_message(
            as_message(encoded(EventEnvelope.model_validate(published))), max_bytes=EVENT_LIMIT
        )
        == at_limit
    )


# ---- finding 9: control characters in user ids ------------------------------------------------

UNPRINTABLE_IDS = ["ada\x00", "ada\x1b[2J", "ada\x7f", "ada\x85", "ada\u202e", "ada\u2028"]


@pytest.mark.parametrize("user_id", UNPRINTABLE_IDS, ids=lambda user_id: f"U+{ord(user_id[3]):04X}")
def test_the_consumer_dead_letters_an_unprintable_user_id_naming_the_field(user_id: str) -> None:
    value = EventEnvelope.model_construct(id="e", type="signup", user_id=user_id, properties={})
    raw = encoded(value)
    with pytest.raises(PoisonMessage) as caught:
        parse_message(as_message(raw), max_bytes=EVENT_LIMIT)
    assert caught.value.kind == "invalid_envelope"
    assert "/user_id" in caught.value.detail
    assert f"U+{ord(user_id[3]):04X}" in caught.value.detail


async def test_the_api_refuses_unprintable_user_ids_everywhere_it_takes_one(
    http: httpx.AsyncClient, api_settings: Settings
) -> None:
    operator, editor = as_role(api_settings, Role.operator), as_role(api_settings, Role.editor)
    for user_id in UNPRINTABLE_IDS:
        event = {"type": "signup", "user_id": user_id}
        attempts = [
            ("/api/events", event, operator, "/user_id"),
            ("/api/events/batch", {"events": [event]}, operator, "/events/0/user_id"),
            (f"/api/workflows/{uuid.uuid4()}/start", {"user_id": user_id}, operator, "/user_id"),
            (
                "/api/workflows/execute",
                {"user_id": user_id, "document": chain(2)},
                editor,
                "/user_id",
            ),
        ]
        for path, body, headers, field in attempts:
            refused = await http.post(path, json=body, headers=headers)
            assert refused.status_code == 422, (path, user_id, refused.text)
            assert refused.headers["content-type"].startswith(PROBLEM_JSON)
            assert field in problem_paths(refused), (path, refused.json())
    profile = await http.put("/api/users/ada%00", json={"attributes": {}}, headers=editor)
    assert profile.status_code == 422, profile.text
    assert topic_size(api_settings) == 0


@pytest.mark.parametrize(("one", "other"), [("a b", "a_b"), ("a/b", "a#b"), ("ü", "_")])
def test_users_whose_ids_differ_only_in_unsafe_characters_get_their_own_runs(
    one: str, other: str
) -> None:
    """Workflow ids replace characters the Temporal UI cannot show with `_`; two users must
    still never share a run id, so a lossy replacement carries a digest of the exact id."""
    assert journey_workflow_id("j1", one, "k") != journey_workflow_id("j1", other, "k")
    assert trigger_workflow_id("t1", one, "e", once=True) != trigger_workflow_id(
        "t1", other, "e", once=True
    )
    assert journey_workflow_id("j1", "ada.l@x:1-2_3", "k") == "journey-j1-ada.l@x:1-2_3-k"

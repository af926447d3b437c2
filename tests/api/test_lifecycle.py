"""Stages over HTTP on both databases: transitions (history, audit, the event on Kafka), time in
each stage, the merged history, and journeys that only users in their stages may start."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import col, select

from api.auth import Role
from journey.core.db.models import LifecycleEvent, User, UserLifecycleHistory, WorkflowExecution
from journey.services.lifecycle import stage_event_id
from tests.api.conftest import ApiClientFactory
from tests.api.test_users import WAITING, Api, api, problem_paths, read_events, topic_size

__all__ = ["api"]  # the fixture, shared with test_users

T0 = datetime(2026, 1, 1, tzinfo=UTC)


async def transition(api: Api, user_id: str, stage: Any, **body: Any) -> dict[str, Any]:
    answer = await api.http.post(
        f"/api/users/{user_id}/lifecycle/transition",
        json={"stage": stage, **body},
        headers=api.headers(Role.operator),
    )
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def test_a_transition_writes_history_and_audit_then_publishes(api: Api) -> None:
    api.user("ada")
    moved = await transition(api, "ada", "Activation", reason="finished onboarding")
    assert (moved["from_stage"], moved["to_stage"], moved["changed"]) == (
        "Acquisition",
        "Activation",
        True,
    )
    with api.sessions() as session:
        [history] = session.exec(select(UserLifecycleHistory)).all()
        [audit] = session.exec(select(LifecycleEvent)).all()
    assert history.metadata_ is not None
    assert (history.metadata_["reason"], history.metadata_["source"]) == (
        "finished onboarding",
        "api",
    )
    assert history.metadata_["actor"] == "operator-1"
    assert (audit.event_type, audit.lifecycle_stage, audit.event_id) == (
        "lifecycle.stage_changed",
        "Activation",
        moved["event_id"],
    )
    [(key, event)] = read_events(api.settings, 1)
    assert key == b"ada"
    assert (event["id"], event["type"], event["user_id"]) == (
        moved["event_id"],
        "lifecycle.stage_changed",
        "ada",
    )
    assert event["properties"] == {
        "from_stage": "Acquisition",
        "to_stage": "Activation",
        "reason": "finished onboarding",
        "source": "api",
    }
    # Derived from the history row, not random.
    assert event["id"] == stage_event_id(
        f"user_lifecycle_history:{history.id}:ada:{history.transitioned_at.isoformat()}"
        if history.transitioned_at
        else ""
    )


async def test_the_same_stage_again_is_a_no_op_that_republishes(api: Api) -> None:
    api.user("ada")
    moved = await transition(api, "ada", "Revenue")
    again = await transition(api, "ada", "Revenue")
    assert (again["changed"], again["from_stage"], again["event_id"]) == (
        False,
        "Revenue",
        moved["event_id"],
    )
    assert api.count(UserLifecycleHistory) == 1
    # The event of the change that brought ada there, again under its id (consumers dedupe).
    events = read_events(api.settings, 2)
    assert [event["id"] for _, event in events] == [moved["event_id"]] * 2
    api.user("bob")
    untouched = await transition(api, "bob", "Acquisition")  # never moved: nothing to publish
    assert (untouched["changed"], untouched["event_id"]) == (False, None)
    assert topic_size(api.settings) == 2


async def test_unknown_stages_and_users(api: Api) -> None:
    api.user("ada")
    url = "/api/users/ada/lifecycle/transition"
    operator = api.headers(Role.operator)
    bad = await api.http.post(url, json={"stage": "Churned"}, headers=operator)
    assert "/stage" in problem_paths(bad)
    missing = await api.http.post(url, json={"reason": "x"}, headers=operator)
    assert "/stage" in problem_paths(missing)
    gone = await api.http.post(
        "/api/users/nobody/lifecycle/transition", json={"stage": "Revenue"}, headers=operator
    )
    assert gone.status_code == 404
    assert api.count(UserLifecycleHistory) == 0


async def test_a_change_the_brokers_missed_is_published_by_a_retry(
    api: Api, api_client_for: ApiClientFactory
) -> None:
    api.user("ada")
    away = api.settings.model_copy(
        update={"kafka_bootstrap": "127.0.0.1:9", "kafka_ack_timeout_seconds": 2}
    )
    async with api_client_for(away) as http:
        answer = await http.post(
            "/api/users/ada/lifecycle/transition",
            json={"stage": "Retention"},
            headers=api.headers(Role.operator),
        )
    assert answer.status_code == 503, answer.text
    assert answer.headers["retry-after"] == "5"
    with api.sessions() as session:  # the change itself is stored
        [audit] = session.exec(select(LifecycleEvent)).all()
    retried = await transition(api, "ada", "Retention")
    assert (retried["changed"], retried["event_id"]) == (False, audit.event_id)
    [(_, event)] = read_events(api.settings, 1)
    assert event["id"] == audit.event_id


def history_row(api: Api, user_id: str, from_stage: str, to_stage: str, at: datetime) -> None:
    with api.sessions() as session:
        session.add(
            UserLifecycleHistory(
                user_id=user_id, from_stage=from_stage, to_stage=to_stage, transitioned_at=at
            )
        )
        session.commit()


async def test_lifecycle_counts_time_in_each_stage(api: Api) -> None:
    api.user("ada", created_at=T0, current_lifecycle_stage="Activation")
    history_row(api, "ada", "Acquisition", "Activation", T0 + timedelta(hours=2))
    history_row(api, "ada", "Activation", "Revenue", T0 + timedelta(hours=5))
    history_row(api, "ada", "Revenue", "Activation", T0 + timedelta(hours=6))
    before = datetime.now(UTC)
    answer = await api.http.get("/api/users/ada/lifecycle", headers=api.headers(Role.viewer))
    after = datetime.now(UTC)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["current_stage"], body["transitions"]) == ("Activation", 3)
    assert datetime.fromisoformat(body["since"]) == T0 + timedelta(hours=6)
    stages = {item["stage"]: item for item in body["stages"]}
    assert list(stages) == ["Acquisition", "Activation", "Retention", "Revenue", "Referral"]
    assert (stages["Acquisition"]["seconds"], stages["Acquisition"]["visits"]) == (7200, 1)
    assert (stages["Revenue"]["seconds"], stages["Revenue"]["visits"]) == (3600, 1)
    assert stages["Retention"] == {"stage": "Retention", "seconds": 0, "visits": 0}
    # Activation: 3 hours, then again from hour 6 until the request.
    since = T0 + timedelta(hours=6)
    low, high = ((t - since).total_seconds() + 3 * 3600 for t in (before, after))
    assert low <= stages["Activation"]["seconds"] <= high
    assert stages["Activation"]["visits"] == 2

    api.user("new", created_at=T0)  # never moved: in Acquisition since creation
    fresh = (await api.http.get("/api/users/new/lifecycle")).json()
    assert datetime.fromisoformat(fresh["since"]) == T0 and fresh["transitions"] == 0


async def test_history_merges_transitions_runs_and_events_newest_first(api: Api) -> None:
    api.user("ada", created_at=T0)
    api.user("bob")
    journey_id = uuid.UUID(api.journey())
    history_row(api, "ada", "Acquisition", "Activation", T0 + timedelta(hours=1))
    with api.sessions() as session:
        session.add_all(
            [
                WorkflowExecution(
                    workflow_id=journey_id,
                    workflow_version="1",
                    user_id="ada",
                    temporal_workflow_id="w-ada",
                    status="completed",
                    outcome="done",
                    started_at=T0 + timedelta(hours=2),
                ),
                LifecycleEvent(
                    event_type="purchase",
                    user_id="ada",
                    event_id="e-1",
                    event_data={"total": 5},
                    created_at=T0 + timedelta(hours=3),
                ),
                LifecycleEvent(event_type="purchase", user_id="bob", created_at=T0),
            ]
        )
        session.commit()
    await transition(api, "ada", "Revenue")  # now: newest; its audit row is not an "event"
    answer = await api.http.get("/api/users/ada/history", headers=api.headers(Role.viewer))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["total"] == 4
    kinds = [
        (item["kind"], item.get("to_stage") or item.get("type") or item.get("status"))
        for item in body["items"]
    ]
    assert kinds == [
        ("stage_transition", "Revenue"),
        ("event", "purchase"),
        ("journey_run", "completed"),
        ("stage_transition", "Activation"),
    ]
    assert body["items"][0]["source"] == "api"
    assert (body["items"][1]["event_id"], body["items"][1]["data"]) == ("e-1", {"total": 5})
    assert body["items"][2]["journey_id"] == str(journey_id)
    page = (await api.http.get("/api/users/ada/history", params={"limit": 2, "offset": 1})).json()
    assert [item["kind"] for item in page["items"]] == ["event", "journey_run"]
    assert (page["total"], page["limit"], page["offset"]) == (4, 2, 1)


async def test_a_journey_restricted_to_stages_starts_only_for_users_in_them(api: Api) -> None:
    limits = {"lifecycle_stages": ["Revenue"], "restrict_to_stages": True}
    restricted = api.journey({**WAITING, **limits, "create_missing_profile": True})
    labelled = api.journey({**WAITING, "name": "label only", "lifecycle_stages": ["Revenue"]})
    api.user("ada")  # Acquisition
    api.user("rich", current_lifecycle_stage="Revenue")
    operator = api.headers(Role.operator)

    async def start(journey_id: str, user_id: str) -> Any:
        return await api.http.post(
            f"/api/workflows/{journey_id}/start", json={"user_id": user_id}, headers=operator
        )

    refused = await start(restricted, "ada")
    assert refused.status_code == 409, refused.text
    assert refused.json()["detail"] == (
        "user stage Acquisition not in the journey's stages [Revenue] (restrict_to_stages)"
    )
    assert (await start(restricted, "newcomer")).status_code == 409  # would be Acquisition
    assert (await start(restricted, "rich")).status_code == 201
    assert (await start(labelled, "ada")).status_code == 201  # stages as a label only
    with api.sessions() as session:
        users = session.exec(
            select(WorkflowExecution.user_id).order_by(col(WorkflowExecution.user_id))
        ).all()
    assert list(users) == ["ada", "rich"]
    assert api.count(User, User.id == "newcomer") == 0  # refused before a profile was made
    await transition(api, "ada", "Revenue")
    assert (await start(restricted, "ada")).status_code == 201

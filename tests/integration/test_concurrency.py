"""Concurrent writers: commands on one opportunity all land, and an idempotent retry runs once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from fastapi.testclient import TestClient

from api.app import create_app
from api.idempotency import RETRY_LATER
from domain.application import Actor
from main.services import Services
from storage.answers import PENDING, AnswerStore
from tests.conftest import build_services
from tests.ledger import ADMIN, ALICE

TEAM = ("alice", "bob", "carol", "dave")


def staffed_opportunity(services: Services) -> str:
    app = services.app
    for member_id in TEAM:
        app.register_member(ADMIN, member_id, member_id.title(), "sales")
    oid = app.open_opportunity(ALICE, account_id="acme", name="Acme", amount="100000.00",
                               currency="USD", expected_close="2030-01-01").id
    for member_id in TEAM[1:]:
        app.add_supporter(ALICE, oid, member_id)
    return oid


def visit_by_bob(services: Services, token, key: str) -> tuple[dict, dict]:
    """Headers and body of bob's contribution request under Idempotency-Key `key`."""
    headers = {"Authorization": f"Bearer {token('bob')}", "Idempotency-Key": key}
    body = {"member_id": "bob", "kind": "visit", "summary": key,
            "occurred_at": (services.app.clock() - timedelta(hours=1)).isoformat()}
    return headers, body


def test_concurrent_contributions_on_one_opportunity_all_land(services: Services,
                                                              database_url: str) -> None:
    oid = staffed_opportunity(services)
    other = build_services(database_url)  # a second process on the same store
    when = (services.app.clock() - timedelta(hours=1)).isoformat()

    def contribute(member_id: str) -> list[int]:
        actor = Actor(member_id, "member")
        app = (services if TEAM.index(member_id) % 2 else other).app
        return [app.record_contribution(actor, oid, member_id=member_id, kind="visit",
                                        summary=f"visit {n}", occurred_at=when).position
                for n in range(8)]

    try:
        with ThreadPoolExecutor(len(TEAM)) as pool:
            positions = [p for batch in pool.map(contribute, TEAM) for p in batch]
    finally:
        other.close()

    assert len(set(positions)) == 8 * len(TEAM)
    assert services.runner.wait_for(max(positions))
    board = services.views.get("board", oid)
    assert len(board["contributions"]) == 8 * len(TEAM)
    assert {c["member_id"] for c in board["contributions"]} == set(TEAM)


def test_the_same_idempotency_key_sent_at_once_records_one_contribution(
        services: Services, token) -> None:
    oid = staffed_opportunity(services)
    headers, body = visit_by_bob(services, token, "visit-42")

    with TestClient(create_app(services=services)) as client, ThreadPoolExecutor(6) as pool:
        responses = list(pool.map(
            lambda _: client.post(f"/v1/opportunities/{oid}/contributions", json=body,
                                  headers=headers), range(6)))
        final = client.post(f"/v1/opportunities/{oid}/contributions", json=body, headers=headers)
        board = client.get(f"/v1/opportunities/{oid}/board?after={final.json()['position']}",
                           headers=headers).json()

    created = [r for r in responses if r.status_code == 201]
    assert created and all(r.json() == created[0].json() for r in created)
    assert all(r.status_code in (201, 409) for r in responses)
    assert final.status_code == 201 and final.json() == created[0].json()
    assert [c["summary"] for c in board["contributions"]] == ["visit-42"]


def test_a_reservation_abandoned_by_a_dead_process_is_taken_over(services: Services) -> None:
    now = [1_000_000.0]
    store = AnswerStore(services.db, clock=lambda: now[0], takeover_seconds=60)
    assert store.reserve("bob:k1", "hash") is None  # the process dies before completing
    assert store.reserve("bob:k1", "hash")[1] == PENDING  # still running: a retry gets 409

    now[0] += 61

    assert store.reserve("bob:k1", "hash") is None  # the retry runs the command
    store.complete("bob:k1", 201, '{"id": "x"}', "application/json")
    assert store.reserve("bob:k1", "hash") == ("hash", 201, '{"id": "x"}', "application/json")


def test_an_answer_that_says_retry_is_not_remembered(services: Services) -> None:
    store = services.idempotency
    assert store.reserve("bob:k2", "hash") is None
    store.complete("bob:k2", 409, '{"type": "' + RETRY_LATER + '"}', "application/problem+json")
    assert store.reserve("bob:k2", "hash") is None  # the retry runs the command again


def test_a_retry_whose_key_was_freed_after_the_save_still_records_once(
        services: Services, token) -> None:
    oid = staffed_opportunity(services)
    headers, body = visit_by_bob(services, token, "visit-7")
    with TestClient(create_app(services=services)) as client:
        first = client.post(f"/v1/opportunities/{oid}/contributions", json=body, headers=headers)
        with services.db.transaction() as cur:  # as if the answer had been a 5xx after saving
            cur.execute("DELETE FROM goldsplit_idempotency")
        retry = client.post(f"/v1/opportunities/{oid}/contributions", json=body, headers=headers)
        board = client.get(f"/v1/opportunities/{oid}/board?after={first.json()['position']}",
                           headers=headers).json()

    assert first.status_code == 201 and retry.status_code == 409
    assert [c["id"] for c in board["contributions"]] == [first.json()["id"]]

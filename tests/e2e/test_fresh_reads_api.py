"""Fresh by default: a read without `?after` sees every write acknowledged before it arrived. It
waits for the head of the log as of its arrival (bounded by GOLDSPLIT_READ_WAIT_SECONDS, then 503
with Retry-After); `?after=N` still waits for N."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from main.services import Services
from main.settings import Settings
from tests.conftest import SECRET
from tests.e2e.test_api import assert_problem, auth


def open_deal(client: TestClient, lead: str, name: str = "WMS") -> dict:
    response = client.post("/v1/opportunities", headers=auth(lead), json={
        "account_id": "acme", "name": name, "amount": "1000.00", "currency": "CNY",
        "expected_close": "2026-12-31"})
    assert response.status_code == 201, response.text
    return response.json()


def test_a_read_right_after_a_write_sees_it_without_after(client: TestClient,
                                                          token: Callable[..., str]) -> None:
    lead = token("lee", "lead")
    for n in range(20):
        opened = open_deal(client, lead, f"deal {n}")
        board = client.get(f"/v1/opportunities/{opened['id']}/board", headers=auth(lead))
        assert board.status_code == 200, board.text
        assert board.json()["position"] >= opened["position"]


@pytest.fixture
def unprojected(database_url: str) -> Iterator[tuple[Services, TestClient]]:
    """The API with no projections running: as deployed while `goldsplit project` is down."""
    services = Services.build(Settings(database_url=database_url, secret=SECRET,
                                       read_wait_seconds=0.3, in_process_projections=False))
    with TestClient(create_app(services=services)) as client:
        yield services, client
    services.close()


def test_a_read_waits_for_the_head_of_the_log_and_answers_503_rather_than_stale(
        unprojected: tuple[Services, TestClient], token: Callable[..., str]) -> None:
    services, client = unprojected
    lead = token("lee", "lead")
    opened = open_deal(client, lead)
    stale = client.get(f"/v1/opportunities/{opened['id']}/board", headers=auth(lead))
    assert_problem(stale, 503)
    assert stale.headers["Retry-After"] == "1"
    services.runner.catch_up()  # what a projection process does
    fresh = client.get(f"/v1/opportunities/{opened['id']}/board", headers=auth(lead))
    assert fresh.status_code == 200 and fresh.json()["name"] == "WMS"
    earlier = client.get(f"/v1/opportunities/{opened['id']}/board?after=1", headers=auth(lead))
    assert earlier.status_code == 200

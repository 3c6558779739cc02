"""Four eyes over HTTP, on the embedded store and on PostgreSQL: an AR who tries to move money
alone is refused with 403 naming the field, asks a lead instead, and a lead with no stake in the
deal decides, with a reason; the board shows the ask and its decision."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from tests.e2e.test_money_api import Books


@pytest.fixture
def deal(client: TestClient, token: Callable[..., str]) -> tuple[Books, str]:
    """An EUR 100,000.00 deal (grade C) of ana (AR) and sam (SR), each with work confirmed."""
    b = Books(client, token)
    for member, department in (("ana", "sales"), ("sam", "presales")):
        b.ok("POST", "/v1/members", "root", {"id": member, "name": member, "department": department},
             status=201)
    oid = b.ok("POST", "/v1/opportunities", "ana", {
        "account_id": "acme", "name": "WMS", "amount": "100000.00", "currency": "EUR",
        "expected_close": "2026-12-01"}, status=201)["id"]
    path = f"/v1/opportunities/{oid}"
    b.ok("PUT", f"{path}/triangle/SR", "ana", {"member_id": "sam"})
    for member, kind in (("ana", "visit"), ("sam", "demo")):
        cid = b.ok("POST", f"{path}/contributions", member, {
            "member_id": member, "kind": kind, "summary": kind,
            "occurred_at": "2026-01-05T09:00:00Z"}, status=201)["id"]
        b.ok("POST", f"{path}/contributions/{cid}/confirm", "lee" if member == "ana" else "ana")
    return b, path


def test_an_ar_who_moves_money_alone_is_refused_naming_the_field_and_nothing_is_recorded(deal) -> None:
    b, path = deal
    b.refused("PATCH", path, "ana", {"amount": "500000.00"}, 403, "amount")
    b.refused("POST", f"{path}/win", "ana", {"closed_on": "2026-01-04"}, 403, "closed_on")
    b.refused("POST", f"{path}/win", "ana", {"closed_on": "2026-01-05", "amount": "999999999999999.99"},
              403, "amount")
    sams = next(c for c in b.read(f"{path}/board", "lee")["contributions"] if c["member_id"] == "sam")
    b.refused("POST", f"{path}/contributions/{sams['id']}/reverse", "ana", {"reason": "not done"},
              403, "contribution_id")
    b.refused("PUT", f"{path}/triangle/FR", "ana", {"member_id": "ana"}, 403, "member_id")
    b.refused("PATCH", path, "lee", {"grade": "A"}, 422, "reason")
    assert b.read(f"{path}/board", "lee")["stage"] == "open"


def test_the_ar_asks_and_a_lead_decides_and_the_board_shows_it(deal) -> None:
    b, path = deal
    b.refused("POST", f"{path}/asks", "sam", {"action": "correct", "amount": "150000.00",
                                              "reason": "bigger"}, 403)
    b.refused("POST", f"{path}/asks", "ana", {"action": "win", "reason": "now"}, 422, "closed_on")
    asked = b.ok("POST", f"{path}/asks", "ana", {"action": "win", "amount": "120000.00",
                                                 "closed_on": "2026-01-10",
                                                 "reason": "signed larger, in January"}, status=201)
    ask = b.read(f"/v1/asks/{asked['id']}", "ana")
    assert (ask["action"], ask["status"], ask["arguments"]) == (
        "win", "open", {"amount": "120000.00", "closed_on": "2026-01-10"})
    assert "above_open_amount" in ask["calls"]
    board = b.read(f"{path}/board", "sam")
    assert (board["open_asks"], board["stage"]) == (1, "open")

    b.refused("POST", f"/v1/asks/{asked['id']}/approve", "sam", {"reason": "sure"}, 403)
    b.refused("POST", f"/v1/asks/{asked['id']}/approve", "lee", {}, 422, "reason")
    b.ok("POST", f"/v1/asks/{asked['id']}/approve", "lee", {"reason": "contract checked"})
    ask = b.read(f"/v1/asks/{asked['id']}", "lee")
    assert (ask["status"], ask["decision"]["by"], ask["decision"]["reason"]) == (
        "approved", "lee", "contract checked")
    board = b.read(f"{path}/board", "ana")
    assert (board["stage"], board["amount"]["amount"], board["closed_on"], board["open_asks"]) == (
        "won", "120000.00", "2026-01-10", 0)
    b.refused("POST", f"/v1/asks/{asked['id']}/reject", "lee", {"reason": "too late"}, 409, "status")

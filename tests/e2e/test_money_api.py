"""The money over HTTP (issue 4), on the embedded store and on PostgreSQL: a deal won in October
is approved, paid, disputed, closed by replay, and corrected forward in the open month."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient

from domain.policy import DEFAULT_INCENTIVE_DOCUMENT
from tests.e2e.test_api import assert_problem, auth, log_position


class Books:
    def __init__(self, client: TestClient, token: Callable[..., str]) -> None:
        self.client = client
        self.tokens = {"ana": token("ana"), "sam": token("sam"), "lee": token("lee", "lead"),
                       "fin": token("fin", "finance"), "aud": token("aud", "auditor"),
                       "root": token("root", "admin")}
        self.position = 0

    def call(self, method: str, path: str, who: str, body: object = None):
        response = self.client.request(method, path, json=body, headers=auth(self.tokens[who]))
        if method != "GET" and response.is_success:
            self.position = max(self.position, response.json().get("position", 0))
        return response

    def ok(self, method: str, path: str, who: str, body: object = None, status: int = 200) -> dict:
        response = self.call(method, path, who, body)
        assert response.status_code == status, response.text
        return response.json()

    def read(self, path: str, who: str) -> dict:
        return self.ok("GET", f"{path}{'&' if '?' in path else '?'}after={self.position}", who)

    def refused(self, method: str, path: str, who: str, body: object, status: int,
                field: str | None = None) -> dict:
        before = log_position(self.client)
        problem = assert_problem(self.call(method, path, who, body), status, field)
        assert log_position(self.client) == before
        return problem


@pytest.fixture
def books(client: TestClient, token: Callable[..., str]) -> tuple[Books, dict]:
    """A CNY 1,000,000.00 deal (grade B: pool 20,000.00), holdback 20 %, won on 2026-10-15:
    ana (AR, a visit) and sam (SR, a PoC)."""
    b = Books(client, token)
    b.ok("POST", "/v1/policies/incentive", "fin", {
        **{k: v for k, v in DEFAULT_INCENTIVE_DOCUMENT.items()}, "effective_from": "2026-01-01",
        "holdback": "0.2"}, status=201)
    for member, department in (("ana", "sales"), ("sam", "presales")):
        b.ok("POST", "/v1/members", "root", {"id": member, "name": member, "department": department},
             status=201)
    oid = b.ok("POST", "/v1/opportunities", "lee", {
        "account_id": "acme", "name": "WMS", "amount": "1000000.00", "currency": "CNY",
        "expected_close": "2026-12-01"}, status=201)["id"]
    path = f"/v1/opportunities/{oid}"
    b.ok("PUT", f"{path}/triangle/AR", "lee", {"member_id": "ana"})
    b.ok("PUT", f"{path}/triangle/SR", "lee", {"member_id": "sam"})
    visit = b.ok("POST", f"{path}/contributions", "ana", {
        "member_id": "ana", "kind": "visit", "summary": "Visit", "occurred_at": "2026-10-01T09:00:00Z"},
        status=201)["id"]
    poc = b.ok("POST", f"{path}/contributions", "sam", {
        "member_id": "sam", "kind": "poc", "summary": "PoC", "occurred_at": "2026-10-02T09:00:00Z"},
        status=201)["id"]
    b.ok("POST", f"{path}/contributions/{visit}/confirm", "lee")
    b.ok("POST", f"{path}/contributions/{poc}/confirm", "ana")
    b.refused("POST", f"{path}/win", "ana", {"closed_on": "2026-10-15"}, 403, "closed_on")  # backdated
    won = b.ok("POST", f"{path}/win", "lee", {"closed_on": "2026-10-15", "reason": "signed on the 15th"})
    return b, {"path": path, "allocation": f"/v1/allocations/{won['allocation_id']}", "visit": visit}


def test_finance_approves_collects_cash_and_closes_october_by_replay(books) -> None:
    b, deal = books
    b.refused("POST", f"{deal['allocation']}/approve", "lee", None, 403)
    b.ok("POST", f"{deal['allocation']}/approve", "fin")
    b.refused("POST", f"{deal['allocation']}/approve", "fin", None, 409)
    payment = {"amount": "300000.00", "currency": "CNY", "received_on": "2026-10-20"}
    b.refused("POST", f"{deal['path']}/payments", "fin", {**payment, "amount": "1000000.01"}, 422, "amount")
    b.refused("POST", f"{deal['path']}/payments", "fin", {**payment, "currency": "USD"}, 422, "currency")
    b.refused("POST", f"{deal['path']}/payments", "ana", payment, 403)
    b.ok("POST", f"{deal['path']}/payments", "fin", payment, status=201)

    dispute = b.ok("POST", f"{deal['allocation']}/disputes", "sam",
                   {"member_id": "sam", "reason": "the PoC took six weeks"}, status=201)
    b.refused("POST", f"{deal['allocation']}/disputes", "ana", {"member_id": "sam", "reason": "x"}, 403,
              "member_id")
    assert b.read("/v1/members/sam/board", "sam")["open_disputes"] == 1
    b.refused("POST", f"/v1/disputes/{dispute['id']}/resolve", "lee",
              {"decision": "reject", "reason": "per policy"}, 403)
    b.ok("POST", f"/v1/disputes/{dispute['id']}/resolve", "fin",
         {"decision": "reject", "reason": "per policy"})
    sams = b.read("/v1/members/sam/board", "sam")
    assert (sams["open_disputes"], sams["disputes"][0]["status"], sams["disputes"][0]["resolution"]) == (
        0, "rejected", "per policy")

    b.refused("POST", "/v1/periods/2026-10/close", "ana", None, 403)
    b.refused("POST", "/v1/periods/2099-01/close", "fin", None, 422, "period")
    closed = b.ok("POST", "/v1/periods/2026-10/close", "fin")
    # ana 11428.57 and sam 8571.43 (4/7 and 3/7 of 20000.00); upfront 80 % = 16000.00, and the
    # October payment (30 % of the deal) releases floor(30 %) of the held parts: 685.71 + 514.28
    assert closed["totals"] == {"CNY": "17199.99"} and closed["entries"] == 4
    assert len(closed["chain_head"]) == 64
    b.refused("POST", "/v1/periods/2026-10/close", "fin", None, 409, "period")
    october = b.read("/v1/periods/2026-10", "aud")
    assert october["closed"] is True

    statement = b.read("/v1/periods/2026-10/statements/sam", "sam")
    assert sum(Decimal(line["amount"]) for line in statement["lines"]) == Decimal("7371.42")
    b.refused("GET", "/v1/periods/2026-10/statements/sam", "ana", None, 404, "member_id")
    assert b.read("/v1/audit/verify", "aud")["ok"] is True


def test_a_late_reversal_after_the_close_is_booked_in_the_open_month(books) -> None:
    b, deal = books
    b.ok("POST", f"{deal['allocation']}/approve", "fin")
    b.ok("POST", "/v1/periods/2026-10/close", "fin")
    b.refused("POST", f"{deal['path']}/contributions/{deal['visit']}/reverse", "ana",
              {"reason": "entered twice"}, 403)  # after the win, moving money is a lead's call
    b.ok("POST", f"{deal['path']}/contributions/{deal['visit']}/reverse", "lee", {"reason": "entered twice"})
    this_month = b.client.app.state.services.app.clock().strftime("%Y-%m")
    ana = b.read(f"/v1/periods/{this_month}/statements/ana", "fin")
    [clawback] = ana["lines"]
    assert (clawback["kind"], clawback["amount"]) == ("adjustment", "-9142.86")  # her whole upfront
    assert clawback["corrects"]["member_id"] == "ana"
    october = b.read("/v1/periods/2026-10/statements/ana", "fin")
    assert [line["amount"] for line in october["lines"]] == ["9142.86"]  # the closed month is as it was
    allocation = b.read(deal["allocation"], "fin")
    assert {line["member_id"]: line["target"]["amount"] for line in allocation["lines"]}["sam"] == "20000.00"
    # every read shows ana's line as it stands now: approved 11,428.57, now nothing, all clawed back
    [line] = b.read(deal["allocation"], "ana")["lines"]
    assert (line["amount"], line["approved"], line["current"], line["paid"]) == (
        "11428.57", "11428.57", "0.00", "0.00")
    explained = b.read(f"{deal['allocation']}/explain?member_id=ana", "ana")
    assert (explained["amount"], explained["approved_amount"], explained["paid"]) == (
        "0.00", "11428.57", "0.00")
    assert [(c["contribution_id"], c["reason"]) for c in explained["excluded"]] == [
        (deal["visit"], "reversed")]
    [adjustment] = explained["adjustments"]
    assert [e["amount"] for e in adjustment["entries"]] == [clawback["amount"]]
    [earned] = b.read("/v1/members/ana/board", "ana")["earned"]["allocations"]
    assert (earned["approved"], earned["current"], earned["paid"]) == ("11428.57", "0.00", "0.00")
    assert [f["code"] for f in b.read(deal["allocation"], "ana")["review"]] == ["reversed_after_win"]

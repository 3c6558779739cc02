"""Refusals that disclose nothing (issue 11), on the embedded store and on PostgreSQL.

An outsider (a registered member on no deal) gets, for every read and command on a deal, an
allocation, a dispute, an ask, a request or another member's board, the very problem an id that
names nothing gets, and records nothing. And no refusal a member gets names another member or
another deal they did not name themselves.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from tests.e2e.test_api import auth, day, log_position, moment

MEMBERS = {"ana": ("sales", "Ana Okafor"), "sam": ("presales", "Sam Ishikawa"),
           "fay": ("delivery", "Fay Lindqvist"), "oz": ("sales", "Oz Brandt")}
WARM = {"decision_maker_stance": "neutral", "coach_inside": "informal", "budget_confirmed": "estimated",
        "technical_preference": "open", "competitive_position": "even", "executive_relationship": "met"}


@dataclass
class World:
    """An open deal and a won one, both with ana AR, sam SR and fay FR; oz is on neither."""

    client: TestClient
    tokens: dict[str, str]
    ids: dict[str, str] = field(default_factory=dict)

    def call(self, method: str, path: str, who: str, body: Any = None) -> Response:
        return self.client.request(method, path, json=body, headers=auth(self.tokens[who]))

    def ok(self, method: str, path: str, who: str, body: Any = None) -> dict:
        response = self.call(method, path, who, body)
        assert response.is_success, response.text
        return response.json()

    def deal(self, name: str) -> str:
        opened = self.ok("POST", "/v1/opportunities", "lee", {
            "account_id": "acme", "name": name, "amount": "100000.00", "currency": "CNY",
            "expected_close": day(30)})
        path = f"/v1/opportunities/{opened['id']}"
        for role, member in (("AR", "ana"), ("SR", "sam"), ("FR", "fay")):
            self.ok("PUT", f"{path}/triangle/{role}", "lee", {"member_id": member})
        return opened["id"]

    def contribution(self, member: str, kind: str = "demo") -> dict:
        return {"member_id": member, "kind": kind, "summary": f"{kind} at Acme", "hours": "2",
                "occurred_at": moment(-1)}


@pytest.fixture
def world(client: TestClient, token: Callable[..., str]) -> World:
    w = World(client, {m: token(m) for m in MEMBERS} | {
        "lee": token("lee", "lead"), "fin": token("fin", "finance"), "root": token("root", "admin")})
    for member, (department, name) in MEMBERS.items():
        w.ok("POST", "/v1/members", "root", {"id": member, "name": name, "department": department})
    w.ids["open"] = w.deal("Acme WMS")
    opened = f"/v1/opportunities/{w.ids['open']}"
    w.ids["contribution"] = w.ok("POST", f"{opened}/contributions", "sam", w.contribution("sam"))["id"]
    w.ids["ask"] = w.ok("POST", f"{opened}/asks", "ana", {
        "action": "correct", "amount": "200000.00", "reason": "the scope grew"})["id"]
    request = {"kind": "demo", "summary": "A demo for the board", "due": day(3)}
    w.ids["request"] = w.ok("POST", f"{opened}/requests", "ana", {**request, "to_department": "presales"})["id"]
    w.ids["to_sam"] = w.ok("POST", f"{opened}/requests", "ana", {**request, "to_member": "sam"})["id"]

    w.ids["won"] = w.deal("Acme TMS")
    won = f"/v1/opportunities/{w.ids['won']}"
    for member in ("ana", "sam"):
        cid = w.ok("POST", f"{won}/contributions", member, w.contribution(member, "visit"))["id"]
        w.ids[f"{member}_work"] = cid
        w.ok("POST", f"{won}/contributions/{cid}/confirm", "lee" if member == "ana" else "ana")
    w.ids["allocation"] = w.ok("POST", f"{won}/win", "ana", {"closed_on": day(0)})["allocation_id"]
    w.ids["dispute"] = w.ok("POST", f"/v1/allocations/{w.ids['allocation']}/disputes", "sam",
                            {"member_id": "sam", "reason": "the demo took a week"})["id"]
    return w


def routes(w: World) -> list[tuple[str, str, str, Any]]:
    """(method, path with {x} for the object's id, the real id, body): each read and command on
    something oz may not see."""
    opp, won, ids = "/v1/opportunities/{x}", "/v1/opportunities/{x}", w.ids
    contribution = w.contribution("oz")
    return [
        ("GET", f"{opp}/board", ids["open"], None),
        ("GET", f"{won}/board", ids["won"], None),
        ("GET", f"{opp}/allocation", ids["open"], None),
        ("GET", f"{won}/allocation", ids["won"], None),
        ("GET", "/v1/allocations/{x}", ids["allocation"], None),
        ("GET", "/v1/allocations/{x}/explain", ids["allocation"], None),
        ("GET", "/v1/allocations/{x}/explain?member_id=sam", ids["allocation"], None),
        ("GET", "/v1/disputes/{x}", ids["dispute"], None),
        ("GET", "/v1/asks/{x}", ids["ask"], None),
        ("GET", "/v1/members/{x}/board", "sam", None),
        ("GET", f"/v1/periods/{day()[:7]}/statements/{{x}}", "sam", None),
        ("PATCH", opp, ids["open"], {"expected_close": day(45)}),
        ("POST", f"{opp}/requests", ids["open"],
         {"to_department": "delivery", "kind": "demo", "summary": "s", "due": day(3)}),
        ("POST", f"{opp}/assessments", ids["open"], {"answers": WARM}),
        ("PUT", f"{opp}/triangle/SR", ids["open"], {"member_id": "oz"}),
        ("POST", f"{opp}/supporters", ids["open"], {"member_id": "oz"}),
        ("POST", f"{opp}/contributions", ids["open"], contribution),
        ("POST", f"{won}/contributions", ids["won"], contribution),
        ("POST", f"{opp}/contributions/{ids['contribution']}/confirm", ids["open"], None),
        ("POST", f"{opp}/contributions/{ids['contribution']}/reverse", ids["open"], {"reason": "twice"}),
        ("POST", f"{opp}/win", ids["open"], {"closed_on": day(0)}),
        ("POST", f"{won}/win", ids["won"], {"closed_on": day(0)}),
        ("POST", f"{opp}/lose", ids["open"], {"reason": "budget", "closed_on": day(0)}),
        ("POST", f"{opp}/asks", ids["open"], {"action": "correct", "amount": "300000.00", "reason": "r"}),
        ("POST", "/v1/asks/{x}/approve", ids["ask"], {"reason": "fine"}),
        ("POST", "/v1/asks/{x}/reject", ids["ask"], {"reason": "no"}),
        ("POST", "/v1/requests/{x}/accept", ids["request"], None),
        ("POST", "/v1/requests/{x}/decline", ids["request"], {"reason": "busy"}),
        ("POST", "/v1/requests/{x}/deliver", ids["request"], None),
        ("POST", "/v1/requests/{x}/rate", ids["request"], {"score": 5}),
        ("POST", "/v1/allocations/{x}/disputes", ids["allocation"], {"member_id": "oz", "reason": "r"}),
    ]


def shape(response: Response, named: str) -> tuple[int, str, bytes]:
    """The answer with the id the caller named blotted out."""
    return (response.status_code, response.headers["content-type"],
            response.content.replace(named.encode(), b"<id>"))


def test_an_outsider_gets_for_what_they_may_not_see_the_answer_an_id_that_names_nothing_gets(
        world: World, subtests) -> None:
    before = log_position(world.client)
    for method, path, real, body in routes(world):
        with subtests.test(method=method, path=path):
            nothing = f"ghost-{uuid.uuid4().hex[:8]}" if "members" in path or "statements" in path \
                else str(uuid.uuid4())
            hidden = world.call(method, path.format(x=real), "oz", body)
            missing = world.call(method, path.format(x=nothing), "oz", body)
            assert hidden.status_code == 404, hidden.text
            assert shape(hidden, real) == shape(missing, nothing)
    assert log_position(world.client) == before


def test_an_insider_who_sees_the_deal_still_gets_403_naming_the_rule(world: World) -> None:
    opp = f"/v1/opportunities/{world.ids['open']}"
    refusals = [
        world.call("POST", f"{opp}/contributions/{world.ids['contribution']}/confirm", "sam"),
        world.call("POST", f"/v1/asks/{world.ids['ask']}/approve", "sam", {"reason": "fine"}),
        world.call("POST", f"/v1/requests/{world.ids['to_sam']}/accept", "fay"),
        world.call("GET", f"/v1/allocations/{world.ids['allocation']}/explain?member_id=ana", "sam"),
    ]
    assert [r.status_code for r in refusals] == [403] * 4, [r.text for r in refusals]
    assert refusals[2].json()["errors"][0]["field"] == "member_id"


def refusals_of_members(w: World) -> list[tuple[str, str, str, Any]]:
    """(who, method, path, body) of requests by members and staff that are refused."""
    opp, won = f"/v1/opportunities/{w.ids['open']}", f"/v1/opportunities/{w.ids['won']}"
    allocation, contribution = f"/v1/allocations/{w.ids['allocation']}", w.ids["contribution"]
    return [
        ("fay", "POST", f"/v1/requests/{w.ids['request']}/accept", None),  # addressed to presales
        ("fay", "POST", f"/v1/requests/{w.ids['to_sam']}/accept", None),  # addressed to sam
        ("fay", "POST", f"/v1/requests/{w.ids['to_sam']}/decline", {"reason": "busy"}),
        ("lee", "POST", f"/v1/requests/{w.ids['request']}/accept", {"member_id": "fay"}),
        ("sam", "POST", f"/v1/requests/{w.ids['to_sam']}/rate", {"score": 5}),
        ("sam", "POST", f"/v1/requests/{w.ids['to_sam']}/deliver", None),
        ("sam", "POST", f"{opp}/contributions/{contribution}/confirm", None),
        ("ana", "POST", f"{won}/contributions/{w.ids['ana_work']}/confirm", None),
        ("ana", "POST", f"{won}/contributions/{w.ids['sam_work']}/reverse", {"reason": "twice"}),
        ("sam", "POST", f"{opp}/win", {"closed_on": day(0)}),
        ("sam", "POST", f"{opp}/asks", {"action": "correct", "amount": "300000.00", "reason": "r"}),
        ("ana", "POST", f"/v1/asks/{w.ids['ask']}/approve", {"reason": "mine"}),
        ("ana", "POST", f"{opp}/supporters", {"member_id": "fay"}),
        ("ana", "POST", f"{opp}/contributions", w.contribution("fay")),
        ("lee", "POST", f"{opp}/contributions", w.contribution("oz")),
        ("sam", "POST", f"{allocation}/disputes", {"member_id": "sam", "reason": "again"}),
        ("sam", "POST", f"{allocation}/disputes", {"member_id": "ana", "reason": "too much"}),
        ("ana", "GET", f"/v1/disputes/{w.ids['dispute']}", None),
        ("sam", "GET", f"{allocation}/explain?member_id=ana", None),
        ("sam", "GET", "/v1/members/ana/board", None),
        ("sam", "GET", f"/v1/periods/{day()[:7]}/statements/ana", None),
        ("fin", "POST", f"{won}/payments", {"amount": "10.00", "currency": "CNY", "received_on": day(0),
                                           "payment_id": "erp-1"}),
        *[("oz", method, path.format(x=real), body) for method, path, real, body in routes(w)],
    ]


def test_no_refusal_names_another_member_or_a_deal_the_caller_did_not_name(world: World) -> None:
    other = world.deal("Acme spare parts")
    world.ok("POST", f"/v1/opportunities/{other}/win", "lee", {"closed_on": day(0)})
    world.ok("POST", f"/v1/opportunities/{other}/payments", "fin", {
        "amount": "10.00", "currency": "CNY", "received_on": day(0), "payment_id": "erp-1"})
    people = {m: [m, *name.split()] for m, (_, name) in MEMBERS.items()}
    deals = [world.ids["open"], world.ids["won"], other]
    before = log_position(world.client)
    for who, method, path, body in refusals_of_members(world):
        response = world.call(method, path, who, body)
        assert response.status_code >= 400, (who, method, path, response.text)
        problem = response.json()
        said = " ".join([problem["detail"], *[e["message"] for e in problem.get("errors", [])]])
        named = path + json.dumps(body)
        for member, words in people.items():
            if member != who and member not in named:
                for word in words:
                    assert not re.search(rf"\b{re.escape(word)}\b", said, re.I), (who, path, said)
        assert not [d for d in deals if d in said and d not in named], (who, path, said)
    assert log_position(world.client) == before

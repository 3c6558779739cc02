"""The collaboration side over HTTP (issue 3), on the embedded store and on PostgreSQL.

One story: an account is registered, graded and planned with tasks; an opportunity on it is
graded with its required roles; sales asks presales for help, which is delivered, rated and
rewarded; two assessments move the win probability; the won deal is calibrated. Then each
refusal the issue names, every one a problem document that records nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from tests.e2e.test_api import assert_problem, auth, day, log_position

TEAM = {"ana": "sales", "sam": "presales", "fay": "delivery", "pia": "presales", "oz": "sales"}
WARM = {"decision_maker_stance": "neutral", "coach_inside": "informal", "budget_confirmed": "estimated",
        "technical_preference": "open", "competitive_position": "even", "executive_relationship": "met"}
HOT = {**WARM, "decision_maker_stance": "champion", "coach_inside": "active",
       "budget_confirmed": "approved", "technical_preference": "ours"}


class Api:
    """Calls as a named person; remembers the last command's position for read-your-writes."""

    def __init__(self, client: TestClient, token: Callable[..., str]) -> None:
        self.client = client
        self.tokens = {name: token(name) for name in TEAM}
        self.tokens.update(lee=token("lee", "lead"), fin=token("fin", "finance"),
                           root=token("root", "admin"), aud=token("aud", "auditor"))
        self.position = 0

    def call(self, method: str, path: str, who: str, body: Any = None) -> Response:
        response = self.client.request(method, path, json=body, headers=auth(self.tokens[who]))
        if method != "GET" and response.is_success:
            self.position = max(self.position, response.json()["position"])
        return response

    def ok(self, method: str, path: str, who: str, body: Any = None, status: int = 200) -> dict:
        response = self.call(method, path, who, body)
        assert response.status_code == status, response.text
        return response.json()

    def read(self, path: str, who: str) -> dict:
        joiner = "&" if "?" in path else "?"
        return self.ok("GET", f"{path}{joiner}after={self.position}", who)


@pytest.fixture
def api(client: TestClient, token: Callable[..., str]) -> Api:
    api = Api(client, token)
    for member, department in TEAM.items():
        api.ok("POST", "/v1/members", "root", {"id": member, "name": member.title(),
                                               "department": department}, status=201)
    return api


def refused(api: Api, method: str, path: str, who: str, body: Any, status: int,
            field: str | None = None) -> dict:
    """The command is refused with a problem naming `field`, and the log does not move."""
    before = log_position(api.client)
    problem = assert_problem(api.call(method, path, who, body), status, field)
    assert log_position(api.client) == before
    return problem


def test_an_account_is_graded_planned_and_its_tasks_close_the_loop(api: Api) -> None:
    created = api.ok("POST", "/v1/accounts", "ana", {
        "id": "acme", "name": "Acme Logistics", "industry": "logistics",
        "attributes": {"annual_potential": "6000000", "strategic_fit": "high"}}, status=201)
    assert created["id"] == "acme" and created["grade"] == "B"  # 0.40 x 70 + 0.25 x 100 = 53
    assert api.ok("PATCH", "/v1/accounts/acme", "ana",
                  {"attributes": {"relationship_depth": "partner"}})["grade"] == "A"  # 73
    api.ok("POST", "/v1/accounts/acme/team", "ana", {"member_id": "sam", "role": "solution_lead"},
           status=201)
    task = api.ok("POST", "/v1/accounts/acme/tasks", "ana",
                  {"title": "Map the buying centre", "assignee": "sam", "due": day(10)}, status=201)
    api.ok("POST", f"/v1/tasks/{task['id']}/complete", "sam", {"note": "org chart in the CRM"})
    refused(api, "POST", f"/v1/tasks/{task['id']}/verify", "sam", None, 403)
    api.ok("POST", f"/v1/tasks/{task['id']}/reopen", "ana", {"reason": "the CFO is missing"})
    api.ok("POST", f"/v1/tasks/{task['id']}/complete", "sam")
    api.ok("POST", f"/v1/tasks/{task['id']}/verify", "ana")

    board = api.read("/v1/accounts/acme/board", "ana")
    assert [g["grade"] for g in board["grade_history"]] == ["B", "A"]
    assert board["team"] == {"ana": "account_manager", "sam": "solution_lead"}
    [planned] = board["tasks"]
    assert planned["status"] == "verified" and planned["overdue"] is False
    assert api.read("/v1/accounts/acme/board", "lee")["grade"] == "A"
    assert_problem(api.call("GET", "/v1/accounts/acme/board", "oz"), 404)  # not on it: none to see
    assert_problem(api.call("GET", "/v1/accounts/nobody/board", "lee"), 404)


def test_a_support_request_is_delivered_rated_and_rewarded_on_the_won_deal(api: Api) -> None:
    api.ok("POST", "/v1/accounts", "ana", {"id": "acme", "name": "Acme"}, status=201)
    opened = api.ok("POST", "/v1/opportunities", "ana", {
        "account_id": "acme", "name": "WMS roll-out", "amount": "4000000.00", "currency": "CNY",
        "expected_close": day(60)}, status=201)
    assert opened["grade"] == "A"
    path = f"/v1/opportunities/{opened['id']}"
    board = api.read(f"{path}/board", "ana")
    assert board["required_roles"] == ["AR", "SR", "FR"]
    assert {w["role"] for w in board["warnings"]} == {"SR", "FR"}

    api.ok("PUT", f"{path}/triangle/FR", "ana", {"member_id": "fay"})
    request = api.ok("POST", f"{path}/requests", "ana", {
        "to_department": "presales", "kind": "solution_design", "summary": "Target architecture",
        "due": day(7)}, status=201)
    refused(api, "POST", f"/v1/requests/{request['id']}/accept", "fay", None, 403)
    api.ok("POST", f"/v1/requests/{request['id']}/accept", "sam")
    delivered = api.ok("POST", f"/v1/requests/{request['id']}/deliver", "sam",
                       {"summary": "Architecture and sizing", "hours": "12"})
    refused(api, "POST", f"/v1/requests/{request['id']}/rate", "lee", {"score": 5}, 403)
    api.ok("POST", f"/v1/requests/{request['id']}/rate", "ana", {"score": 5, "comment": "spot on"})

    board = api.read(f"{path}/board", "ana")
    [asked] = board["requests"]
    assert (asked["status"], asked["supporter"], asked["rating"]) == ("rated", "sam", 5)
    assert asked["due_state"] == "delivered_on_time" and asked["response_hours"] is not None
    assert "sam" in board["supporters"]
    [work] = [c for c in board["contributions"] if c["kind"] == "support_delivered"]
    assert (work["id"], work["member_id"], work["status"]) == (
        delivered["contribution_id"], "sam", "recorded")  # it counts once the AR confirms it
    assert work["request_id"] == request["id"]
    refused(api, "POST", f"{path}/contributions/{work['id']}/confirm", "sam", None, 403)
    api.ok("POST", f"{path}/contributions/{work['id']}/confirm", "ana")
    assert {w["role"] for w in board["warnings"]} == {"SR"}

    sams = api.read("/v1/members/sam/board", "sam")
    assert [c["kind"] for c in sams["contributions"]] == ["support_delivered"]
    assert [r["id"] for r in sams["requests_to_me"]] == [request["id"]]
    assert [r["id"] for r in api.read("/v1/members/ana/board", "ana")["requests_from_me"]] == [request["id"]]
    assert_problem(api.call("GET", "/v1/members/ana/board", "sam"), 404, "member_id")

    won = api.ok("POST", f"{path}/win", "ana", {"closed_on": day(0)})
    allocation = api.read(f"/v1/allocations/{won['allocation_id']}", "lee")
    lines = {line["member_id"]: Decimal(line["amount"]) for line in allocation["lines"]}
    assert lines["sam"] > 0  # the back office is rewarded for the delivered request
    assert sum(lines.values()) + Decimal(allocation["unallocated"]["amount"]) == Decimal("120000.00")


def test_assessments_move_the_probability_and_closed_deals_are_calibrated(api: Api) -> None:
    opened = api.ok("POST", "/v1/opportunities", "ana", {
        "account_id": "acme", "name": "Cold storage", "amount": "200000.00", "currency": "CNY",
        "expected_close": day(30)}, status=201)
    path = f"/v1/opportunities/{opened['id']}"
    first = api.ok("POST", f"{path}/assessments", "ana", {"answers": WARM}, status=201)
    second = api.ok("POST", f"{path}/assessments", "ana", {"answers": HOT}, status=201)
    # WARM: .25x40 + .15x50 + .15x50 + .15x50 + .15x50 + .15x40 = 46 -> 0.35
    assert (first["score"], first["win_probability"], first["standard_version"]) == (46, "0.35", 1)
    # HOT: .25x100 + .15x100 + .15x100 + .15x100 + .15x50 + .15x40 = 83.5 -> 84 -> 0.85
    assert (second["score"], second["win_probability"]) == (84, "0.85")
    board = api.read(f"{path}/board", "ana")
    assert [a["score"] for a in board["assessments"]] == [46, 84]
    assert board["assessment"]["win_probability"] == "0.85"

    api.ok("POST", f"{path}/lose", "ana", {"reason": "budget frozen", "closed_on": day(0)})
    by_member = api.read("/v1/calibration?by=member", "lee")
    [group] = [g for g in by_member["groups"] if g["key"] == "member:ana"]
    assert group["count"] == 1 and group["brier"] == "0.7225"  # (0.85 - 0)^2
    [cell] = [b for b in group["bins"] if b["count"]]
    assert (cell["from"], cell["to"], cell["predicted"], cell["observed"]) == ("0.8", "0.9", "0.8500", "0.0000")
    assert [g["key"] for g in api.read("/v1/calibration?by=standard_version", "ana")["groups"]] == [
        "standard_version:1"]
    assert [g["key"] for g in api.read("/v1/calibration?by=member", "oz")["groups"]] == []
    assert_problem(api.call("GET", "/v1/calibration?by=planet", "lee"), 422)


def test_finance_versions_every_kind_of_policy_and_refuses_one_that_does_not_add_up(api: Api) -> None:
    standard = api.read("/v1/policies/relationship-standard", "ana")["versions"][0]
    document = {k: v for k, v in standard.items() if k not in ("version", "hash")}
    added = api.ok("POST", "/v1/policies/relationship-standard", "fin",
                   {**document, "effective_from": day(0)}, status=201)
    assert added["version"] == 2
    refused(api, "POST", "/v1/policies/relationship-standard", "ana", document, 403)
    lopsided = {**document["criteria"], "coach_inside": {**document["criteria"]["coach_inside"],
                                                         "weight": "0.50"}}
    refused(api, "POST", "/v1/policies/relationship-standard", "fin",
            {**document, "criteria": lopsided}, 422, "criteria")
    grading = api.read("/v1/policies/opportunity-grading", "fin")["versions"][0]
    backwards = {k: v for k, v in grading.items() if k not in ("version", "hash")}
    backwards["amount_bands"] = {"CNY": [{"from": "0", "grade": "A"}, {"from": "100.00", "grade": "C"}]}
    refused(api, "POST", "/v1/policies/opportunity-grading", "fin", backwards, 422, "amount_bands.CNY")
    assert_problem(api.call("GET", "/v1/policies/horoscope", "fin"), 404)
    kinds = ("account-grading", "opportunity-grading", "relationship-standard", "incentive")
    assert [len(api.read(f"/v1/policies/{k}", "aud")["versions"]) for k in kinds] == [1, 1, 2, 1]


def test_out_of_order_and_misaddressed_work_is_refused_and_records_nothing(api: Api) -> None:
    api.ok("POST", "/v1/accounts", "ana", {"id": "acme", "name": "Acme"}, status=201)
    refused(api, "POST", "/v1/accounts/acme/tasks", "ana",
            {"title": "Call", "assignee": "ghost", "due": day(3)}, 404, "assignee")
    refused(api, "POST", "/v1/accounts/acme/tasks", "ana",
            {"title": "Call", "assignee": "sam", "due": day(-3)}, 422, "due")
    task = api.ok("POST", "/v1/accounts/acme/tasks", "ana",
                  {"title": "Call", "assignee": "sam", "due": day(3)}, status=201)
    refused(api, "POST", f"/v1/tasks/{task['id']}/verify", "ana", None, 409, "status")
    refused(api, "PATCH", "/v1/accounts/acme", "ana",
            {"attributes": {"annual_potential": "lots"}}, 422, "attributes.annual_potential")
    refused(api, "DELETE", "/v1/accounts/acme/team/sam", "ana", None, 404, "member_id")
    missing = refused(api, "PATCH", "/v1/accounts/nowhere", "ana", {"attributes": {}}, 404, "account_id")
    assert "no account nowhere" in missing["detail"]

    opened = api.ok("POST", "/v1/opportunities", "ana", {
        "account_id": "acme", "name": "Deal", "amount": "50000.00", "currency": "CNY",
        "expected_close": day(30)}, status=201)
    path = f"/v1/opportunities/{opened['id']}"
    base = {"kind": "demo", "summary": "Demo please", "due": day(5)}
    refused(api, "POST", f"{path}/requests", "ana", {**base, "to_member": "ghost"}, 404, "to_member")
    refused(api, "POST", f"{path}/requests", "ana", {**base, "to_department": "astrology"}, 422,
            "to_department")
    request = api.ok("POST", f"{path}/requests", "ana", {**base, "to_member": "sam"}, status=201)
    refused(api, "POST", f"/v1/requests/{request['id']}/deliver", "sam", None, 409, "status")
    api.ok("POST", f"/v1/requests/{request['id']}/decline", "sam", {"reason": "no capacity"})
    refused(api, "POST", f"/v1/requests/{request['id']}/accept", "sam", None, 409, "status")
    refused(api, "POST", f"/v1/requests/{request['id']}/rate", "ana", {"score": 4}, 409, "status")

    again = api.ok("POST", f"{path}/requests", "ana", {**base, "to_member": "pia"}, status=201)
    api.ok("POST", f"/v1/requests/{again['id']}/accept", "pia")
    api.ok("POST", f"/v1/requests/{again['id']}/deliver", "pia")
    for score in (0, 6, "5", 4.5, True):
        refused(api, "POST", f"/v1/requests/{again['id']}/rate", "ana", {"score": score}, 422, "score")

    refused(api, "POST", f"{path}/assessments", "ana",
            {"answers": {**WARM, "coach_inside": "bribed"}}, 422, "answers.coach_inside")
    refused(api, "POST", f"{path}/assessments", "ana",
            {"answers": {**WARM, "horoscope": "good"}}, 422, "answers.horoscope")
    partial = {k: v for k, v in WARM.items() if k != "budget_confirmed"}
    refused(api, "POST", f"{path}/assessments", "ana", {"answers": partial}, 422,
            "answers.budget_confirmed")
    refused(api, "POST", f"{path}/assessments", "oz", {"answers": WARM}, 404, "opportunity_id")


def test_registering_an_account_id_does_not_open_the_deals_filed_under_it(api: Api) -> None:
    opened = api.ok("POST", "/v1/opportunities", "ana", {
        "account_id": "acme-123", "name": "Big deal", "amount": "5000000.00", "currency": "CNY",
        "expected_close": day(30)}, status=201)
    api.ok("POST", "/v1/accounts", "oz", {"id": "acme-123", "name": "Acme"}, status=201)
    assert api.read("/v1/accounts/acme-123/board", "oz")["opportunities"] == []
    assert [o["opportunity_id"] for o in api.read("/v1/accounts/acme-123/board", "lee")["opportunities"]] == [
        opened["id"]]


def test_the_grade_is_a_leads_call_and_a_lead_can_give_it_back_to_the_policy(api: Api) -> None:
    refused(api, "POST", "/v1/opportunities", "ana", {
        "account_id": "acme", "name": "Tiny", "amount": "10.00", "currency": "CNY",
        "expected_close": day(30), "attributes": {"new_logo": True}}, 403, "attributes.new_logo")
    opened = api.ok("POST", "/v1/opportunities", "ana", {
        "account_id": "acme", "name": "Tiny", "amount": "10.00", "currency": "CNY",
        "expected_close": day(30)}, status=201)
    path = f"/v1/opportunities/{opened['id']}"
    refused(api, "PATCH", path, "lee", {"grade": "A"}, 422, "reason")  # who and why
    assert api.ok("PATCH", path, "lee", {"grade": "A", "reason": "a lighthouse logo"})["grade"] == "A"
    assert api.ok("PATCH", path, "ana", {"amount": "5.00"})["grade"] == "A"  # the override stands
    refused(api, "PATCH", path, "ana", {"amount": "20.00"}, 403, "amount")  # raising it: a lead's call
    refused(api, "PATCH", path, "ana", {"grade": None}, 403, "grade")
    assert api.ok("PATCH", path, "lee", {"grade": None, "reason": "back to the policy"})["grade"] == "C"
    assert api.read(f"{path}/board", "ana")["grading"]["overridden"] is False


def test_a_member_sees_calibration_of_their_own_team_and_of_every_standard_version(api: Api) -> None:
    for member in ("ana", "sam"):
        opened = api.ok("POST", "/v1/opportunities", "lee", {
            "account_id": "acme", "name": f"{member}'s deal", "amount": "50000.00", "currency": "CNY",
            "expected_close": day(30)}, status=201)
        path = f"/v1/opportunities/{opened['id']}"
        api.ok("PUT", f"{path}/triangle/AR", "lee", {"member_id": member})
        api.ok("POST", f"{path}/assessments", member, {"answers": WARM}, status=201)
        api.ok("POST", f"{path}/win", "lee", {"closed_on": day(0)})
    assert [g["key"] for g in api.read("/v1/calibration?by=team", "lee")["groups"]] == [
        "team:presales", "team:sales"]
    assert [g["key"] for g in api.read("/v1/calibration?by=team", "ana")["groups"]] == ["team:sales"]
    assert [g["key"] for g in api.read("/v1/calibration?by=member", "sam")["groups"]] == ["member:sam"]
    assert [g["count"] for g in api.read("/v1/calibration?by=standard_version", "sam")["groups"]] == [2]


def test_nobody_takes_on_a_request_once_the_deal_is_closed(api: Api) -> None:
    opened = api.ok("POST", "/v1/opportunities", "ana", {
        "account_id": "acme", "name": "Deal", "amount": "50000.00", "currency": "CNY",
        "expected_close": day(30)}, status=201)
    path = f"/v1/opportunities/{opened['id']}"
    api.ok("PUT", f"{path}/triangle/SR", "ana", {"member_id": "sam"})
    request = api.ok("POST", f"{path}/requests", "ana", {
        "to_member": "sam", "kind": "demo", "summary": "Demo", "due": day(3)}, status=201)
    api.ok("POST", f"{path}/lose", "ana", {"reason": "budget cut", "closed_on": day(0)})
    refused(api, "POST", f"/v1/requests/{request['id']}/accept", "sam", None, 409)

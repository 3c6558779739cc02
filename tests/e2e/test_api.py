"""The HTTP API end to end (docs/api.md), on the embedded store and on PostgreSQL.

One story runs from registering the team to explaining a line of the won deal's allocation; the
rest checks each refusal the contract names: 401, 403, 404 and 409, every one as a problem
document and none of them recording anything (422 and 413: test_api_input.py).
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from api.auth import issue_token
from tests.scrape import sample

PROBLEM = "application/problem+json"
TEAM = {"ana": "sales", "sam": "presales", "fay": "delivery", "fin": "finance",
        "cal": "commercial", "oz": "sales"}
STAFF = ("admin", "lead", "finance", "auditor")  # token roles held by people outside the team
DROP = object()  # in a body change: remove the field
NEW_MEMBER = {"id": "eve", "name": "Eve", "department": "sales"}
DEEP: dict = {}
_level = DEEP
for _ in range(8):
    _level["a"] = {}
    _level = _level["a"]


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def moment(days: float = 0) -> str:
    """An ISO 8601 date-time `days` from now (negative: in the past)."""
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()


def day(days: int = 0) -> str:
    """An ISO date `days` from today (UTC, the application's clock)."""
    return (datetime.now(UTC) + timedelta(days=days)).date().isoformat()


def log_position(client: TestClient) -> int:
    return client.get("/health").json()["log_position"]


def changed(body: dict, changes: dict) -> dict:
    out = {**body, **changes}
    return {k: v for k, v in out.items() if v is not DROP}


def sums_to_pool(split: dict) -> bool:
    """Lines plus unallocated make the pool exactly (decimal strings, no floats)."""
    lines = sum(Decimal(line["amount"]) for line in split["lines"])
    return lines + Decimal(split["unallocated"]["amount"]) == Decimal(split["pool"]["amount"])


def assert_problem(response: Response, status: int, field: str | None = None) -> dict:
    """The response is an RFC 9457 problem with `status`, naming `field` where one is given."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    problem = response.json()
    assert {"type", "title", "status", "detail"} <= problem.keys()
    assert problem["status"] == status and problem["title"] and problem["detail"]
    if field is not None:
        assert field in [e["field"] for e in problem.get("errors", [])], problem
        assert field in problem["detail"], problem
    return problem


@dataclass
class Story:
    """A grade-A deal opened by a lead with ana as AR; sam SR, fay FR, fin and cal supporters;
    oz not on it. ana's own work is confirmed by the lead (nobody confirms their own)."""

    client: TestClient
    tokens: dict[str, str]
    opportunity_id: str
    position: int = 0  # of the last command answered; reads wait for it (read-your-writes)
    authors: dict[str, str] = field(default_factory=dict)  # contribution id -> member

    @property
    def path(self) -> str:
        return f"/v1/opportunities/{self.opportunity_id}"

    def request(self, method: str, path: str, who: str, body: Any = None,
                headers: dict | None = None) -> Response:
        response = self.client.request(method, path, json=body,
                                       headers={**auth(self.tokens[who]), **(headers or {})})
        if method != "GET" and response.is_success:
            self.position = max(self.position, response.json()["position"])
        return response

    def read(self, path: str, who: str, after: int | None = None) -> Response:
        """GET once the read models have reached `after` (default: the last command's position)."""
        after = self.position if after is None else after
        return self.request("GET", f"{path}{'&' if '?' in path else '?'}after={after}", who)

    def post(self, path: str, who: str, body: Any = None, status: int = 200) -> dict:
        response = self.request("POST", path, who, body)
        assert response.status_code == status, response.text
        return response.json()

    def get(self, path: str, who: str, after: int | None = None) -> dict:
        response = self.read(path, who, after)
        assert response.status_code == 200, response.text
        return response.json()

    def contribution(self, member: str, kind: str = "visit", **changes: Any) -> dict:
        """A valid contribution body of `member`, with `changes`."""
        return changed({"member_id": member, "kind": kind, "summary": f"{kind} by {member}",
                        "hours": "2.5", "occurred_at": moment(-1),
                        "evidence_url": "https://crm.example/notes/1"}, changes)

    def contribute(self, member: str, kind: str = "visit") -> dict:
        answer = self.post(f"{self.path}/contributions", member, self.contribution(member, kind), 201)
        self.authors[answer["id"]] = member
        return answer

    def confirm(self, contribution_id: str, who: str | None = None) -> dict:
        """Confirmed by the AR, or by the lead where the AR wrote it."""
        who = who or ("lead" if self.authors.get(contribution_id) == "ana" else "ana")
        return self.post(f"{self.path}/contributions/{contribution_id}/confirm", who)

    def reverse(self, contribution_id: str, who: str = "ana") -> dict:
        return self.post(f"{self.path}/contributions/{contribution_id}/reverse", who,
                         {"reason": "recorded twice"})

    def win(self, who: str = "ana", **changes: Any) -> dict:
        return self.post(f"{self.path}/win", who, changed({"closed_on": day()}, changes))

    def board(self, who: str = "lead", after: int | None = None) -> dict:
        return self.get(f"{self.path}/board", who, after)


def opportunity_body(**changes: Any) -> dict:
    return changed({"account_id": "acme", "name": "Acme core banking", "amount": "1234567.89",
                    "currency": "CNY", "expected_close": day(60), "grade": "A",
                    "reason": "a lighthouse deal", "attributes": {"segment": "banking"}}, changes)


@pytest.fixture
def story(client: TestClient, token: Callable[..., str]) -> Story:
    tokens = {m: token(m, "member") for m in TEAM} | {r: token(r, r) for r in STAFF}
    for member_id, department in TEAM.items():
        response = client.post("/v1/members", headers=auth(tokens["admin"]),
                               json={"id": member_id, "name": member_id.title(),
                                     "department": department})
        assert response.status_code == 201, response.text
    opened = client.post("/v1/opportunities", headers=auth(tokens["lead"]), json=opportunity_body())
    assert opened.status_code == 201, opened.text
    s = Story(client, tokens, opened.json()["id"])
    s.request("PUT", f"{s.path}/triangle/AR", "lead", {"member_id": "ana"}).raise_for_status()
    s.request("PUT", f"{s.path}/triangle/SR", "lead", {"member_id": "sam"}).raise_for_status()
    s.request("PUT", f"{s.path}/triangle/FR", "lead", {"member_id": "fay"}).raise_for_status()
    for supporter in ("fin", "cal"):
        s.post(f"{s.path}/supporters", "ana", {"member_id": supporter}, 201)
    return s


# -- the story -----------------------------------------------------------------------------------

# Worked by hand (docs/policies.md) for 1,234,567.89 CNY, grade A, default policy v1:
#   pool = round_half_even(123456789 × 0.03) = round_half_even(3703703.67) = 3703704 fen
#   points: AR ana visit 1; SR sam solution_design 5 (demo reversed); FR fay delivery_plan 4
#   (poc never confirmed); SUPPORT fin pricing_review 3, cal contract_review 2
#   exact: ana .4 × pool = 1481481.6; sam .3 × pool = 1111111.2; fay .2 × pool = 740740.8;
#          fin .1 × 3/5 × pool = 222222.24; cal .1 × 2/5 × pool = 148148.16
#   floors sum to 3703702; the 2 missing fen go to the largest remainders: fay (.8), ana (.6).
EXPECTED_LINES = {"ana": "14814.82", "sam": "11111.11", "fay": "7407.41", "fin": "2222.22",
                  "cal": "1481.48"}
CONFIRMED_WORK = {"ana": "visit", "sam": "solution_design", "fay": "delivery_plan",
                  "fin": "pricing_review", "cal": "contract_review"}


def test_a_won_deal_is_recorded_split_and_explained_end_to_end(story: Story) -> None:
    recorded = {m: story.contribute(m, kind) for m, kind in CONFIRMED_WORK.items()}
    demo = story.contribute("sam", "demo")
    poc = story.contribute("fay", "poc")
    for c in recorded.values():
        story.confirm(c["id"])
    story.confirm(demo["id"])
    story.reverse(demo["id"], who="lead")  # sam's confirmed work: a lead's call, not the AR's
    won = story.win()

    board = story.board(after=won["position"])
    assert board["stage"] == "won" and board["grade"] == "A"
    assert board["position"] >= won["position"]
    assert board["triangle"] == {"AR": "ana", "SR": "sam", "FR": "fay"}
    assert board["supporters"] == ["fin", "cal"]
    statuses = {c["id"]: (c["member_id"], c["role"], c["status"], c["points"])
                for c in board["contributions"]}
    assert statuses[demo["id"]] == ("sam", "SR", "reversed", 0)
    assert statuses[poc["id"]] == ("fay", "FR", "recorded", 8)
    assert statuses[recorded["fin"]["id"]] == ("fin", "SUPPORT", "confirmed", 3)
    assert board["points_by_member"] == {"ana": 1, "cal": 2, "fay": 4, "fin": 3, "sam": 5}
    assert story.board("cal")["opportunity_id"] == story.opportunity_id  # a supporter reads it too

    allocation = story.get(f"{story.path}/allocation", "finance", after=won["position"])
    assert allocation["id"] == won["allocation_id"]
    assert allocation["opportunity_id"] == story.opportunity_id
    assert allocation["pool"] == {"amount": "37037.04", "currency": "CNY"}
    assert allocation["policy"]["name"] == "default" and allocation["policy"]["version"] == 1
    assert allocation["policy"]["hash"].startswith("sha256:")
    assert {line["member_id"]: line["amount"] for line in allocation["lines"]} == EXPECTED_LINES
    assert allocation["unallocated"]["amount"] == "0.00"
    assert sums_to_pool(allocation)
    assert all(Decimal(line["upfront"]) + Decimal(line["held"]) == Decimal(line["amount"])
               for line in allocation["lines"])

    explain = f"/v1/allocations/{won['allocation_id']}/explain"
    explained = story.get(f"{explain}?member_id=sam", "auditor")
    assert explained["member_id"] == "sam" and explained["amount"] == "11111.11"
    assert explained["policy"] == allocation["policy"]
    assert [(c["kind"], c["weight"], c["position"]) for c in explained["contributions"]] == [
        ("solution_design", 5, recorded["sam"]["position"])]
    assert [s["name"] for s in explained["steps"]][0] == "pool"
    assert explained["steps"][-2]["value"] == "1111111"  # the rounding step, in fen


def test_a_member_sees_only_their_own_line_and_explanation(story: Story) -> None:
    c = story.contribute("sam", "solution_design")
    story.confirm(c["id"])
    story.confirm(story.contribute("ana", "visit")["id"])
    won = story.win()
    allocation_path = f"/v1/allocations/{won['allocation_id']}"

    for path in (f"{story.path}/allocation", allocation_path):
        own = story.get(path, "sam", after=won["position"])
        assert [line["member_id"] for line in own["lines"]] == ["sam"]
        assert own["visible_lines"] == "own"
    assert story.get(f"{allocation_path}/explain", "sam")["member_id"] == "sam"
    assert_problem(story.read(f"{allocation_path}/explain?member_id=ana", "sam"), 403)


@pytest.mark.parametrize("reader", ["finance", "auditor", "lead"])
def test_finance_auditors_and_leads_read_every_board_line_and_explanation(story: Story,
                                                                         reader: str) -> None:
    for member, kind in (("ana", "visit"), ("fay", "delivery_plan")):
        story.confirm(story.contribute(member, kind)["id"])
    won = story.win()

    assert story.board(reader, after=won["position"])["stage"] == "won"
    allocation = story.get(f"{story.path}/allocation", reader)
    assert [line["member_id"] for line in allocation["lines"]] == ["ana", "fay"]
    assert allocation["visible_lines"] == "all"
    explained = story.get(f"/v1/allocations/{won['allocation_id']}/explain?member_id=fay", reader)
    assert explained["member_id"] == "fay"


def test_the_open_board_shows_the_work_so_far_and_the_split_if_won_today(story: Story) -> None:
    visit, poc, demo = (story.contribute(m, kind) for m, kind in
                        (("ana", "visit"), ("fay", "poc"), ("sam", "demo")))
    story.confirm(visit["id"])
    story.confirm(poc["id"])

    board = story.board("cal", after=demo["position"])

    assert board["stage"] == "open" and board["position"] >= demo["position"]
    assert [c["id"] for c in board["contributions"]] == [visit["id"], poc["id"], demo["id"]]
    assert board["points_by_member"] == {"ana": 1, "fay": 8}
    assert board["pending_points_by_member"] == {"sam": 3}
    assert board["projected_split"]["lines"] == [] and board["projected_split"]["visible_lines"] == "own"
    split = story.board("lead")["projected_split"]
    assert split["pool"] == {"amount": "37037.04", "currency": "CNY"}
    assert sums_to_pool(split) and split["visible_lines"] == "all"
    [own] = story.board("ana")["projected_split"]["lines"]
    assert own["member_id"] == "ana"


# -- 401: who are you? ---------------------------------------------------------------------------

def forged_signature(token: str) -> str:
    head, signature = token.rsplit(".", 1)
    return f"{head}.{('A' if signature[0] != 'A' else 'B')}{signature[1:]}"


def elevated_role(token: str) -> str:
    """The payload rewritten to claim admin, the member's signature kept."""
    prefix, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    raised = base64.urlsafe_b64encode(json.dumps({**claims, "role": "admin"}).encode())
    return f"{prefix}.{raised.rstrip(b'=').decode()}.{signature}"


UNAUTHENTICATED = {
    "no token": lambda token: {},
    "not a bearer scheme": lambda token: {"Authorization": f"Basic {token('ana')}"},
    "malformed token": lambda token: auth("not-a-token"),
    "expired token": lambda token: auth(token("ana", "member", ttl=-10)),
    "forged signature": lambda token: auth(forged_signature(token("ana"))),
    "signed with another secret": lambda token: auth(
        issue_token("another-secret", "ana", "admin", 3600)),
    "payload changed after signing": lambda token: auth(elevated_role(token("ana"))),
}


def test_refuses_a_request_without_a_valid_token_with_401(story: Story, token, subtests) -> None:
    before = log_position(story.client)
    for case, headers in UNAUTHENTICATED.items():
        for method, path, body in (
                ("GET", f"{story.path}/board?after={story.position}", None),
                ("POST", f"{story.path}/contributions", story.contribution("ana")),
                ("POST", "/v1/members", NEW_MEMBER)):
            with subtests.test(case, method=method, path=path):
                response = story.client.request(method, path, json=body, headers=headers(token))
                assert_problem(response, 401)
                assert response.headers["www-authenticate"] == "Bearer"
                assert log_position(story.client) == before


# -- 403: not allowed ----------------------------------------------------------------------------

FORBIDDEN = {
    "member registers a member": lambda s, cid: s.request("POST", "/v1/members", "sam", NEW_MEMBER),
    "lead registers a member": lambda s, cid: s.request("POST", "/v1/members", "lead", NEW_MEMBER),
    "member records a contribution as someone else": lambda s, cid: s.request(
        "POST", f"{s.path}/contributions", "sam", s.contribution("sam", member_id="fay")),
    "member confirms without being the AR": lambda s, cid: s.request(
        "POST", f"{s.path}/contributions/{cid}/confirm", "sam"),
    "member reverses without being the AR": lambda s, cid: s.request(
        "POST", f"{s.path}/contributions/{cid}/reverse", "fay", {"reason": "not mine"}),
    "member seats the triangle without being the AR": lambda s, cid: s.request(
        "PUT", f"{s.path}/triangle/FR", "sam", {"member_id": "sam"}),
    "member wins without being the AR": lambda s, cid: s.request(
        "POST", f"{s.path}/win", "sam", {"closed_on": day()}),
    "auditor records a contribution": lambda s, cid: s.request(
        "POST", f"{s.path}/contributions", "auditor", s.contribution("ana")),
    "auditor confirms a contribution": lambda s, cid: s.request(
        "POST", f"{s.path}/contributions/{cid}/confirm", "auditor"),
    "auditor opens an opportunity": lambda s, cid: s.request(
        "POST", "/v1/opportunities", "auditor", opportunity_body()),
    "auditor registers a member": lambda s, cid: s.request("POST", "/v1/members", "auditor",
                                                           NEW_MEMBER),
    "finance records a contribution": lambda s, cid: s.request(
        "POST", f"{s.path}/contributions", "finance", s.contribution("fin")),
}


def test_refuses_a_role_without_the_right_with_403(story: Story, subtests) -> None:
    cid = story.contribute("fay", "poc")["id"]
    before = log_position(story.client)
    for case, attempt in FORBIDDEN.items():
        with subtests.test(case):
            assert_problem(attempt(story, cid), 403)
            assert log_position(story.client) == before


def test_a_member_not_on_the_opportunity_finds_neither_it_nor_its_allocation(story: Story) -> None:
    story.confirm(story.contribute("ana")["id"])
    won = story.win()
    allocation_path = f"/v1/allocations/{won['allocation_id']}"
    for path in (f"{story.path}/board", f"{story.path}/allocation"):
        assert_problem(story.read(path, "oz"), 404, field="opportunity_id")
    assert_problem(story.read(allocation_path, "oz"), 404, field="allocation_id")
    assert_problem(story.read(f"{allocation_path}/explain?member_id=oz", "oz"), 404,
                   field="allocation_id")


# -- 404: not found ------------------------------------------------------------------------------

NOT_FOUND = {
    "unknown opportunity id (a UUID)": ("GET", f"/v1/opportunities/{uuid.uuid4()}/board", None),
    "unknown opportunity id (not a UUID)": ("GET", "/v1/opportunities/no-such-deal/board", None),
    "contribution on an unknown opportunity": (
        "POST", f"/v1/opportunities/{uuid.uuid4()}/contributions", "contribution"),
    "contribution on a non-UUID opportunity": ("POST", "/v1/opportunities/42/contributions",
                                               "contribution"),
    "allocation of an unknown opportunity": (
        "GET", f"/v1/opportunities/{uuid.uuid4()}/allocation", None),
    "allocation of an open opportunity": ("GET", "{opp}/allocation", None),
    "unknown contribution": ("POST", f"{{opp}}/contributions/{uuid.uuid4()}/confirm", None),
    "unknown allocation": ("GET", f"/v1/allocations/{uuid.uuid4()}", None),
    "explanation of an unknown allocation": ("GET", "/v1/allocations/nope/explain", None),
    "unknown policy kind": ("GET", "/v1/policies/bonus-scheme", None),
    "a version of an unknown policy kind": ("POST", "/v1/policies/bonus-scheme", {}),
    "unknown member": ("GET", "/v1/members/nobody", None),
    "seat for an unknown member": ("PUT", "{opp}/triangle/FR", {"member_id": "nobody"}),
}


def test_answers_404_for_what_does_not_exist(story: Story, subtests) -> None:
    before = log_position(story.client)
    for case, (method, path, body) in NOT_FOUND.items():
        with subtests.test(case):
            path = path.format(opp=story.path)
            body = story.contribution("ana") if body == "contribution" else body
            response = (story.read(path, "admin") if method == "GET"
                        else story.request(method, path, "admin", body))
            assert_problem(response, 404)
            assert log_position(story.client) == before


def test_answers_404_explaining_a_member_without_a_line(story: Story) -> None:
    story.confirm(story.contribute("ana")["id"])
    won = story.win()
    explain = f"/v1/allocations/{won['allocation_id']}/explain"
    assert_problem(story.read(f"{explain}?member_id=cal", "finance"), 404, field="member_id")


# -- 409: the state does not allow it -------------------------------------------------------------

def test_refuses_winning_twice_with_409(story: Story) -> None:
    story.win()
    before = log_position(story.client)
    assert_problem(story.request("POST", f"{story.path}/win", "ana", {"closed_on": day()}), 409)
    assert log_position(story.client) == before


def test_refuses_confirming_a_reversed_contribution_with_409(story: Story) -> None:
    cid = story.contribute("sam", "demo")["id"]
    story.reverse(cid)
    before = log_position(story.client)
    problem = assert_problem(
        story.request("POST", f"{story.path}/contributions/{cid}/confirm", "ana"), 409)
    assert "revers" in problem["detail"]
    assert log_position(story.client) == before


def test_refuses_a_lead_recording_for_a_member_not_on_the_opportunity_with_409(story: Story) -> None:
    before = log_position(story.client)
    response = story.request("POST", f"{story.path}/contributions", "lead", story.contribution("oz"))
    assert_problem(response, 409, field="member_id")
    # oz as himself does not see the deal: it does not exist for him
    response = story.request("POST", f"{story.path}/contributions", "oz", story.contribution("oz"))
    assert_problem(response, 404, field="opportunity_id")
    assert log_position(story.client) == before


@pytest.mark.parametrize("close", [
    pytest.param(lambda s: s.win(), id="won"),
    pytest.param(lambda s: s.post(f"{s.path}/lose", "ana",
                                  {"reason": "lost on price", "closed_on": day()}), id="lost"),
])
def test_refuses_a_contribution_on_a_closed_opportunity_with_409(story: Story, close) -> None:
    close(story)
    assert story.board()["stage"] in ("won", "lost")
    before = log_position(story.client)
    response = story.request("POST", f"{story.path}/contributions", "ana",
                             story.contribution("ana"))
    assert_problem(response, 409)
    assert log_position(story.client) == before


# -- Idempotency-Key -----------------------------------------------------------------------------

def test_a_retried_post_with_the_same_idempotency_key_replays_the_answer_and_records_nothing(
        story: Story) -> None:
    path, body = f"{story.path}/contributions", story.contribution("sam", "demo")
    key = {"Idempotency-Key": "retry-7f3a"}
    first = story.request("POST", path, "sam", body, key)
    assert first.status_code == 201, first.text
    after_first = log_position(story.client)

    again = story.request("POST", path, "sam", body, key)

    assert (again.status_code, again.json()) == (first.status_code, first.json())
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert log_position(story.client) == after_first
    assert [c["id"] for c in story.board()["contributions"]] == [first.json()["id"]]


def test_a_refusal_keeps_no_idempotency_key_so_a_retry_is_answered_afresh(story: Story) -> None:
    path, body = f"{story.path}/contributions", story.contribution("sam", "lunch")
    key = {"Idempotency-Key": "retry-bad-kind"}
    first = story.request("POST", path, "sam", body, key)
    assert_problem(first, 422, field="kind")
    again = story.request("POST", path, "sam", body, key)
    assert (again.status_code, again.json()) == (422, first.json())
    assert "idempotent-replayed" not in again.headers


def test_refuses_an_idempotency_key_reused_with_another_body_with_409(story: Story) -> None:
    path, key = f"{story.path}/contributions", {"Idempotency-Key": "retry-9b1c"}
    story.request("POST", path, "sam", story.contribution("sam", "demo"), key).raise_for_status()
    before = log_position(story.client)

    response = story.request("POST", path, "sam", story.contribution("sam", "poc"), key)

    assert_problem(response, 409)
    assert log_position(story.client) == before
    assert [c["kind"] for c in story.board()["contributions"]] == ["demo"]


def test_idempotency_keys_of_different_members_do_not_collide(story: Story) -> None:
    path, key = f"{story.path}/contributions", {"Idempotency-Key": "same-key"}
    sam = story.request("POST", path, "sam", story.contribution("sam", "demo"), key)
    fay = story.request("POST", path, "fay", story.contribution("fay", "poc"), key)
    assert (sam.status_code, fay.status_code) == (201, 201)
    assert sam.json()["id"] != fay.json()["id"]
    assert "idempotent-replayed" not in fay.headers


# -- policies ------------------------------------------------------------------------------------

def policy_hash(version: dict) -> str:
    document = {k: v for k, v in version.items() if k != "hash"}
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def test_finance_adds_an_incentive_policy_version_listed_after_the_first(story: Story) -> None:
    [first] = story.get("/v1/policies/incentive", "ana")["versions"]
    assert first["version"] == 1 and first["hash"] == policy_hash(first)
    document = {k: v for k, v in first.items() if k not in ("version", "hash")}
    document.update(effective_from=day(), member_cap="0.5",
                    role_shares={"AR": "0.5", "SR": "0.25", "FR": "0.15", "SUPPORT": "0.10"})

    added = story.post("/v1/policies/incentive", "finance", document, status=201)

    assert added["version"] == 2 and added["position"] == log_position(story.client)
    versions = story.get("/v1/policies/incentive", "auditor")["versions"]
    assert [v["version"] for v in versions] == [1, 2]
    assert versions[0] == first
    assert versions[1]["hash"] == added["hash"] == policy_hash(versions[1])
    assert versions[1]["member_cap"] == "0.5" and versions[1]["role_shares"]["AR"] == "0.5"


def test_the_allocation_follows_the_policy_version_in_force_on_the_close_date(story: Story) -> None:
    [first] = story.get("/v1/policies/incentive", "finance")["versions"]
    document = {k: v for k, v in first.items() if k not in ("version", "hash")}
    story.post("/v1/policies/incentive", "finance",
               {**document, "effective_from": day(), "pool_rate_by_grade": {"A": "0.05"}}, 201)
    story.confirm(story.contribute("ana")["id"])

    won = story.win()

    allocation = story.get(f"{story.path}/allocation", "finance", after=won["position"])
    assert allocation["policy"]["version"] == 2
    assert allocation["pool"]["amount"] == "61728.39"  # round_half_even(123456789 × 0.05) fen
    assert [(line["member_id"], line["amount"]) for line in allocation["lines"]] == [
        ("ana", "61728.39")]


@pytest.mark.parametrize("who", ["ana", "lead", "auditor"])
def test_refuses_an_incentive_policy_from_anyone_but_finance_with_403(story: Story, who) -> None:
    [first] = story.get("/v1/policies/incentive", "finance")["versions"]
    document = {k: v for k, v in first.items() if k not in ("version", "hash")}
    before = log_position(story.client)
    assert_problem(story.request("POST", "/v1/policies/incentive", who, document), 403)
    assert log_position(story.client) == before
    assert len(story.get("/v1/policies/incentive", "finance")["versions"]) == 1


# -- operations ----------------------------------------------------------------------------------

def test_health_reports_the_store_and_projection_lag(story: Story) -> None:
    health = story.client.get("/health").json()
    assert health["status"] == "ok" and health["store"] in ("sqlite", "postgresql")
    assert health["log_position"] == story.position
    story.board()
    caught_up = story.client.get("/health").json()["projections"]
    assert {name: p["lag"] for name, p in caught_up.items()} == {
        "board": 0, "allocation": 0, "account_board": 0, "member_board": 0, "calibration": 0,
        "audit_chain": 0, "payables": 0}


def test_metrics_are_prometheus_text(story: Story) -> None:
    response = story.client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    assert sample(response.text, "goldsplit_log_position") == log_position(story.client)
    assert sample(response.text, "goldsplit_projection_lag_events", projection="board") >= 0


def test_the_openapi_document_and_docs_describe_the_contract(client: TestClient) -> None:
    assert client.get("/docs").status_code == 200
    spec = client.get("/openapi.json")
    assert spec.status_code == 200
    paths = spec.json()["paths"]
    for path in ("/v1/members", "/v1/opportunities/{opportunity_id}/contributions",
                 "/v1/opportunities/{opportunity_id}/triangle/{role}",
                 "/v1/allocations/{allocation_id}/explain", "/v1/policies/incentive", "/health"):
        assert path in paths

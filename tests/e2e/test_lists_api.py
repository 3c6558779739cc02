"""The list routes over HTTP: GET /v1/opportunities, /v1/accounts, /v1/members and /v1/allocations,
each behind the token, each keeping to what its caller may see, filtered, searched by name and
paged with the opaque cursor of the page before."""

from __future__ import annotations

import pytest

from tests.e2e import test_api
from tests.e2e.test_api import DROP, Story, assert_problem, auth, opportunity_body

story = test_api.story  # the fixture: a grade-A deal with ana AR, sam SR, fay FR, fin and cal supporters

ROUTES = ("/v1/opportunities", "/v1/accounts", "/v1/members", "/v1/allocations")


@pytest.fixture
def deals(story: Story) -> dict[str, str]:
    """The story's deal (ana AR, sam SR, fay FR, fin and cal supporters), oz's own deal on globex,
    and a lead's deal nobody is on; the account acme registered by ana."""
    oz = story.post("/v1/opportunities", "oz", opportunity_body(
        account_id="globex", name="Globex WMS", amount="200000.00", grade=DROP, reason=DROP,
        attributes=DROP), 201)
    nobody = story.post("/v1/opportunities", "lead", opportunity_body(name="acme data centre"), 201)
    story.post("/v1/accounts", "ana", {"id": "acme", "name": "Acme", "industry": "banking"}, 201)
    return {"story": story.opportunity_id, "oz": oz["id"], "nobody": nobody["id"]}


def names(story: Story, path: str, who: str) -> list[str]:
    return [item["name"] for item in story.get(path, who)["items"]]


def test_every_list_route_refuses_a_request_without_a_token_with_401(story: Story) -> None:
    for route in ROUTES:
        answer = story.client.get(route)
        assert_problem(answer, 401)
        assert answer.headers["WWW-Authenticate"] == "Bearer"
        assert_problem(story.client.get(route, headers=auth("gs1.forged.token")), 401)


def test_a_member_lists_only_their_deals_and_a_lead_every_deal(story: Story, deals: dict[str, str]) -> None:
    assert names(story, "/v1/opportunities", "ana") == ["Acme core banking"]
    assert names(story, "/v1/opportunities", "oz") == ["Globex WMS"]
    for reader in ("lead", "finance", "auditor", "admin"):
        assert names(story, "/v1/opportunities", reader) == ["Acme core banking", "acme data centre",
                                                              "Globex WMS"]
    page = story.get("/v1/opportunities", "ana")
    assert page["next"] is None and page["position"] >= story.position
    assert page["items"] == [{
        "id": deals["story"], "name": "Acme core banking", "account_id": "acme", "state": "open",
        "grade": "A", "amount": {"amount": "1234567.89", "currency": "CNY"},
        "expected_close": page["items"][0]["expected_close"], "closed_on": None}]


def test_deals_filter_by_state_grade_member_and_account_and_search_by_name(
        story: Story, deals: dict[str, str]) -> None:
    story.win()

    def ids(query: str) -> list[str]:
        return [i["id"] for i in story.get(f"/v1/opportunities?{query}", "lead")["items"]]

    assert ids("state=won") == [deals["story"]]
    assert ids("state=open") == [deals["nobody"], deals["oz"]]
    assert ids("grade=A&state=open") == [deals["nobody"]]
    assert ids("member=sam") == [deals["story"]]
    assert ids("member=oz") == [deals["oz"]]
    assert ids("account=globex") == [deals["oz"]]
    assert ids("q=ACME") == [deals["story"], deals["nobody"]]
    assert ids("q=wms&account=acme") == []
    assert_problem(story.read("/v1/opportunities?state=pending", "lead"), 422, "state")
    assert_problem(story.read("/v1/opportunities?member=no%20one", "lead"), 422, "member")


def test_the_cursor_pages_through_every_deal_once_and_a_malformed_one_is_refused_naming_it(
        story: Story, deals: dict[str, str]) -> None:
    seen, cursor = [], None
    while True:
        page = story.get("/v1/opportunities?limit=1" + (f"&cursor={cursor}" if cursor else ""), "lead")
        assert len(page["items"]) == 1
        seen.append(page["items"][0]["id"])
        if (cursor := page["next"]) is None:
            break
    assert seen == [deals["story"], deals["nobody"], deals["oz"]]
    for route in ROUTES:
        assert_problem(story.read(f"{route}?cursor=bm90IGEgY3Vyc29y", "lead"), 422, "cursor")
        assert_problem(story.read(f"{route}?cursor=not+a+cursor", "lead"), 422, "cursor")
        for limit in (0, 201):
            assert_problem(story.read(f"{route}?limit={limit}", "lead"), 422, "limit")


def test_a_member_lists_the_accounts_whose_team_they_are_on(story: Story, deals: dict[str, str]) -> None:
    story.post("/v1/accounts", "lead", {"id": "globex", "name": "Globex", "industry": "retail"}, 201)
    assert story.get("/v1/accounts", "ana")["items"] == [
        {"id": "acme", "name": "Acme", "industry": "banking", "grade": "C", "my_role": "account_manager"}]
    assert story.get("/v1/accounts", "oz")["items"] == []
    assert names(story, "/v1/accounts", "lead") == ["Acme", "Globex"]
    assert names(story, "/v1/accounts?q=glo", "lead") == ["Globex"]
    assert names(story, "/v1/accounts?grade=S", "lead") == []


def test_any_token_lists_the_members_directory(story: Story) -> None:
    everyone = ["Ana", "Cal", "Fay", "Fin", "Oz", "Sam"]
    for reader in ("oz", "lead", "auditor"):
        assert names(story, "/v1/members", reader) == everyone
    assert story.get("/v1/members?department=sales", "oz")["items"] == [
        {"id": "ana", "name": "Ana", "department": "sales", "team": "sales"},
        {"id": "oz", "name": "Oz", "department": "sales", "team": "sales"}]
    assert names(story, "/v1/members?team=finance&q=F", "oz") == ["Fin"]
    page = story.get("/v1/members?limit=4", "oz")
    assert names(story, f"/v1/members?limit=4&cursor={page['next']}", "oz") == ["Oz", "Sam"]
    assert_problem(story.read("/v1/members?department=marketing", "oz"), 422, "department")


def test_allocations_list_whether_a_member_has_a_line_never_an_amount_of_theirs(
        story: Story, deals: dict[str, str]) -> None:
    story.confirm(story.contribute("sam", "solution_design")["id"])
    won = story.win()
    (item,) = story.get("/v1/allocations", "sam")["items"]
    assert item["id"] == won["allocation_id"] and item["has_line"] is True
    assert story.get("/v1/allocations", "fay")["items"][0]["has_line"] is False  # fay did no work
    assert item["status"] == "proposed" and item["name"] == "Acme core banking"
    assert set(item) == {"id", "opportunity_id", "name", "status", "cancelled", "grade", "closed_on",
                         "pool", "has_line"}
    assert story.get("/v1/allocations", "oz")["items"] == []
    assert [i["id"] for i in story.get("/v1/allocations?status=proposed", "finance")["items"]] == [
        won["allocation_id"]]
    assert story.get("/v1/allocations?status=approved", "finance")["items"] == []
    period = item["closed_on"][:7]
    assert len(story.get(f"/v1/allocations?period={period}", "lead")["items"]) == 1
    assert_problem(story.read("/v1/allocations?member=ana", "sam"), 403, "member")
    assert len(story.get("/v1/allocations?member=sam", "sam")["items"]) == 1
    assert story.get("/v1/allocations?member=fay", "lead")["items"] == []
    assert_problem(story.read("/v1/allocations?period=2026-13", "lead"), 422, "period")

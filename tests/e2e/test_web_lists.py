"""The list pages without a browser: /opportunities, /accounts, /members and /allocations render
their rows linking to each row's page, a filter form and a search box sent by GET with labelled
fields, and a Next link carrying the cursor; a member never sees a deal they are not on."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from urllib.parse import parse_qs, urlparse

import pytest

from main.services import Services
from main.settings import Settings
from tests.builders import open_deal, register_team, seat_triangle, won_deal
from tests.e2e.test_web import browser, signed_in
from tests.ledger import ALICE, LEAD


@pytest.fixture
def world() -> Iterator[Services]:
    with Services.build(Settings(database_url="memory://", secret="s")) as services:
        register_team(services.app)
        yield services


@pytest.fixture
def deals(world: Services) -> dict[str, str]:
    """alice's deal (bob SR), a lead's deal nobody is on, and a won deal (alice, bob, carol)."""
    mine = open_deal(world.app, ALICE, name="Alpha rollout")
    seat_triangle(world.app, mine, LEAD, SR="bob")
    hidden = open_deal(world.app, LEAD, name="Secret merger", account_id="initech")
    won = won_deal(world.app, name="Beta core")
    world.app.register_account(ALICE, name="Acme", industry="banking", account_id="acme")
    world.runner.catch_up()
    return {"mine": mine, "hidden": hidden, "won": won.oid, "allocation": won.aid}


def rows(page: str, table: str) -> list[str]:
    """The row headers' links of a table, in order."""
    body = re.search(rf'<table id="{table}">(.*?)</table>', page, re.S).group(1)
    return re.findall(r'<th scope="row"><a href="([^"]+)">', body)


def next_link(page: str) -> str | None:
    found = re.search(r'<a href="([^"]+)" rel="next" id="next">Next</a>', page)
    return html.unescape(found.group(1)) if found else None


def test_the_deals_page_lists_my_deals_linking_to_each_and_never_one_i_am_not_on(
        world: Services, deals: dict[str, str]) -> None:
    with signed_in(browser(world), world, "bob") as bob:
        page = bob.get("/opportunities")
    assert page.status_code == 200
    assert rows(page.text, "opportunities") == [f"/opportunities/{deals['mine']}",
                                                f"/opportunities/{deals['won']}"]
    assert "Secret merger" not in page.text and deals["hidden"] not in page.text
    assert '<caption>Deals</caption>' in page.text and '<th scope="col">Amount</th>' in page.text
    assert '<form method="get" action="/opportunities" role="search"' in page.text
    for field in ("state", "grade", "member", "account", "q"):  # each field has its label
        assert f'<label for="filter-{field}">' in page.text and f'id="filter-{field}" name="{field}"' in page.text
    assert '<a href="/opportunities" aria-current="page">Deals</a>' in page.text  # the nav link
    assert next_link(page.text) is None


def test_a_lead_pages_through_every_deal_with_the_next_link_keeping_the_filters(
        world: Services, deals: dict[str, str]) -> None:
    with signed_in(browser(world), world, "lin", "lead") as lead:
        first = lead.get("/opportunities?limit=1&state=open&q=")
        link = next_link(first.text)
        second = lead.get(link)
    assert rows(first.text, "opportunities") == [f"/opportunities/{deals['mine']}"]
    query = parse_qs(urlparse(link).query)
    assert urlparse(link).path == "/opportunities"
    assert query["state"] == ["open"] and query["limit"] == ["1"] and "q" not in query and query["cursor"]
    assert rows(second.text, "opportunities") == [f"/opportunities/{deals['hidden']}"]  # the won one is not open
    assert next_link(second.text) is None
    with signed_in(browser(world), world, "lin", "lead") as lead:
        every = lead.get("/opportunities?limit=2")
        rest = lead.get(next_link(every.text))
    assert rows(every.text, "opportunities") + rows(rest.text, "opportunities") == [
        f"/opportunities/{deals['mine']}", f"/opportunities/{deals['won']}", f"/opportunities/{deals['hidden']}"]
    assert '<option value="open" selected>' in first.text  # the form shows the filter as sent


def test_a_filter_the_list_refuses_is_a_422_page_naming_it(world: Services, deals: dict[str, str]) -> None:
    with signed_in(browser(world), world, "bob") as bob:
        refused = bob.get("/opportunities?cursor=garbage")
        state = bob.get("/opportunities?state=pending")
    assert refused.status_code == 422 and "cursor" in refused.text
    assert state.status_code == 422 and "state" in state.text


def test_the_accounts_members_and_allocations_pages_link_each_row_to_its_page(
        world: Services, deals: dict[str, str]) -> None:
    with signed_in(browser(world), world, "bob") as bob:
        accounts = bob.get("/accounts")
        members = bob.get("/members?department=presales")
        allocations = bob.get("/allocations")
    with signed_in(browser(world), world, "alice") as alice:
        alices = alice.get("/accounts?q=AC")
    assert rows(accounts.text, "accounts") == []  # bob is on no account team
    assert rows(alices.text, "accounts") == ["/accounts/acme"]
    assert rows(members.text, "members") == ["/members/bob", "/members/erin"]
    assert rows(allocations.text, "allocations") == [f"/allocations/{deals['allocation']}"]
    assert f'/allocations/{deals["allocation"]}/members/bob">yes</a>' in allocations.text
    assert "10000.00" not in allocations.text  # bob's line is on its own page, never in the list
    for page in (accounts, members, allocations, alices):
        assert page.status_code == 200 and "<caption>" in page.text and 'role="search"' in page.text


def test_the_pages_need_a_session(world: Services) -> None:
    with browser(world) as anonymous:
        for path in ("/opportunities", "/accounts", "/members", "/allocations"):
            answer = anonymous.get(path, follow_redirects=False)
            assert answer.status_code == 303 and answer.headers["location"] == "/signin"

"""The opportunity page's actions in a real browser: the AR asks the deal's presales engineer for
support with the keyboard alone, and the engineer's open page shows the request without a reload.
On a fresh store, served on a port of its own (conftest.py)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from playwright.sync_api import expect

from tests.browser.conftest import LiveServer
from tests.browser.test_journeys import tab_to
from tests.browser.test_live_board import LIVE_SECONDS, after_write, deal_with_bob, not_navigated, page_of
from tests.ledger import ALICE, BOB

WHAT = "A demo tenant loaded with Acme's own accounts"


def test_the_ar_asks_the_presales_engineer_for_support_with_the_keyboard_and_his_open_page_shows_it(
        live: LiveServer, new_context) -> None:
    oid = deal_with_bob(live)  # alice is the AR; bob (presales) sits as SR
    bob = page_of(new_context, live, BOB, oid, follows=True)
    expect(bob.locator("#requests")).to_contain_text("No support requests.")
    alice = page_of(new_context, live, ALICE, oid)
    due = datetime.now(UTC).date() + timedelta(days=10)

    tab_to(alice, "ask-to_member")
    alice.keyboard.type("bob")
    tab_to(alice, "ask-kind")
    alice.keyboard.type("demo_environment")
    tab_to(alice, "ask-summary")
    alice.keyboard.type(WHAT)
    tab_to(alice, "ask-due")
    alice.keyboard.type(due.strftime("%m%d%Y"))  # a date field in chromium's en-US: month, day, year
    expect(alice.locator("#ask-due")).to_have_value(due.isoformat())
    tab_to(alice, "ask-submit")  # past the date field's own picker
    alice.keyboard.press("Enter")

    expect(alice).to_have_url(after_write(live, oid))
    expect(alice.locator("#requests")).to_contain_text(WHAT)
    row = bob.locator("#requests tbody tr", has_text=WHAT)
    expect(row).to_be_visible(timeout=LIVE_SECONDS * 1000)
    cells = row.locator("td")
    for column, shown in ((0, "bob"), (1, "demo_environment"), (4, "alice"), (5, "open")):
        expect(cells.nth(column)).to_have_text(re.compile(rf"^\s*{shown}\s*$"))
    expect(cells.nth(3)).to_contain_text(due.isoformat())
    assert not_navigated(bob), "bob's page was reloaded or navigated: the board should change in place"
    board = live.services.queries.boards.board(ALICE, oid)
    assert [(r.to_member, r.kind, r.summary, r.due) for r in board.requests] == [
        ("bob", "demo_environment", WHAT, due.isoformat())]

"""Journeys through the web app in a real browser, each on a fresh store: finance approves a won
deal's split from the approvals queue; a member disputes their line and finance upholds it with a
corrected amount, which the member's open allocation page shows live; an auditor verifies the
chain and opens a stored event; a member is refused another member's line; and a contribution
recorded with the keyboard alone."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from playwright.sync_api import BrowserContext, Page, expect

from domain.application import Actor
from tests.browser.conftest import LiveServer
from tests.browser.test_live_board import LIVE_SECONDS, deal_with_bob, not_navigated
from tests.builders import DEAL, WonDeal, won_deal
from tests.ledger import AUDITOR, BOB, FINANCE

# Acme's deal won (tests/builders.py): the pool of 30000.00 CNY split alice 13333.33, bob 10000.00,
# carol 6666.67, nothing unallocated; alice's line as the pages would show it (amount, exact, points):
ALICES = ("13333.33", "4000000/3", "AR 1")
CORRECTED = "9500.00"  # what finance upholds bob's line at (the pool is all allocated: never more)


def won(live: LiveServer) -> WonDeal:
    """Acme's deal won by the lead with alice (AR), bob (SR) and carol (FR) on it, read up to date."""
    deal = won_deal(live.services.app)
    live.services.runner.wait_for(live.services.app.recorder.max_notification_id())
    return deal


def signed_in(new_context: Callable[[], BrowserContext], live: LiveServer, who: Actor) -> Page:
    """A page in a browser context of `who`'s own, signed in (on their desk)."""
    return live.sign_in(new_context().new_page(), who)


def cell(page: Page, row: str, column: int):
    """One cell of a row of a page's table, by the row's id and the column's index."""
    return page.locator(f"#{row}").locator("th, td").nth(column)


APPROVED, CURRENT = 6, 7  # columns of the allocation's lines table (member, points, exact, amount, ...)


# -- a: finance approves the split --------------------------------------------------------------

def test_finance_approves_a_won_deal_s_split_from_the_queue_and_the_allocation_says_approved(
        live: LiveServer, new_context) -> None:
    deal = won(live)
    fiona = signed_in(new_context, live, FINANCE)
    fiona.get_by_role("navigation", name="goldsplit").get_by_role("link", name="Approvals").click()
    expect(fiona).to_have_url(f"{live.url}/queues/approvals")
    row = fiona.locator(f"#allocation-{deal.aid}")
    expect(row).to_contain_text(DEAL["name"])
    expect(fiona.locator(f"#allocation-{deal.aid} td").nth(3)).to_have_text("30000.00 CNY")  # the pool

    row.get_by_role("button", name=f"Approve the split of {DEAL['name']}").click()

    expect(fiona).to_have_url(re.compile(rf"{re.escape(live.url)}/queues/approvals\?after=\d+$"))
    expect(fiona.locator(f"#allocation-{deal.aid}")).to_have_count(0)
    expect(fiona.locator("#approvals")).to_contain_text("No allocation waits for approval.")
    fiona.goto(f"/allocations/{deal.aid}")
    expect(fiona.get_by_role("heading", level=1)).to_have_text("Allocation")
    expect(fiona.locator("hgroup p")).to_contain_text("approved")
    expect(fiona.locator("#allocation dl.facts")).to_contain_text("approved by fiona at")
    expect(cell(fiona, "line-bob", APPROVED)).to_have_text("10000.00")


# -- b: a dispute upheld ------------------------------------------------------------------------

def test_a_member_disputes_their_line_and_finance_upholds_it_which_their_open_allocation_shows_live(
        live: LiveServer, new_context) -> None:
    """The allocation page and the explanation follow the allocation's topic, so bob's open pages
    show the corrected line in place."""
    deal = won(live)
    bob = signed_in(new_context, live, BOB)
    bob.goto(f"/allocations/{deal.aid}/members/bob")
    expect(bob.locator("#current-amount")).to_have_text("10000.00 CNY")

    bob.get_by_label("Dispute this line: the reason").fill("My demo counts as SR work, not as a supporter's")
    bob.get_by_role("button", name="Dispute this line").click()

    expect(bob).to_have_url(re.compile(rf"{re.escape(live.url)}/allocations/{deal.aid}/members/bob\?after=\d+$"))
    dispute = bob.locator("#disputes tbody tr", has_text="My demo counts as SR work, not as a supporter's")
    expect(dispute).to_contain_text("open")
    expect(bob.get_by_role("button", name="Dispute this line")).to_have_count(0)  # one open at a time
    bob.evaluate("window.stillHere = true")  # the explanation stays open from here on

    allocation = bob.context.new_page()
    with allocation.expect_response(lambda r: "/events?" in r.url and f"allocation%3A{deal.aid}" in r.url):
        allocation.goto(f"/allocations/{deal.aid}")
    expect(cell(allocation, "line-bob", CURRENT)).to_have_text("10000.00")
    allocation.evaluate("window.stillHere = true")

    fiona = signed_in(new_context, live, FINANCE)
    fiona.goto("/queues/disputes")
    row = fiona.locator("#open-disputes tbody tr", has_text="My demo counts as SR work, not as a supporter's")
    expect(row.locator("th")).to_have_text("bob")
    row.get_by_role("radio", name="Uphold").check()
    row.get_by_label("Corrected amount").fill(CORRECTED)
    row.get_by_label("Reason").fill("Corrected: half a day of the demo was carol's")
    row.get_by_role("button", name="Decide").click()

    expect(fiona).to_have_url(re.compile(rf"{re.escape(live.url)}/queues/disputes\?after=\d+$"))
    expect(fiona.locator("#open-disputes")).to_contain_text("No dispute is open.")
    expect(cell(allocation, "line-bob", CURRENT)).to_have_text(CORRECTED, timeout=LIVE_SECONDS * 1000)
    expect(allocation.locator("#disputes")).to_contain_text("upheld")
    assert not_navigated(allocation), "bob's allocation page was reloaded: it should change in place"
    expect(bob.locator("#current-amount")).to_have_text(f"{CORRECTED} CNY", timeout=LIVE_SECONDS * 1000)
    expect(bob.locator("#adjustments")).to_contain_text("Corrected: half a day of the demo was carol's")
    assert not_navigated(bob), "bob's explanation was reloaded: it should change in place"


# -- c: the auditor ------------------------------------------------------------------------------

def test_an_auditor_verifies_the_chain_and_opens_the_stored_event_behind_a_position(
        live: LiveServer, new_context) -> None:
    """tom follows the position of the deal's win (within the chain's first page) to its event."""
    deal = won(live)
    stored = next(n for n in live.services.app.recorder.select_notifications(start=1, limit=50)
                  if n.topic.endswith(":Opportunity.Won"))
    closed_on, amount = (json.loads(stored.state)[k] for k in ("closed_on", "amount"))
    tom = signed_in(new_context, live, AUDITOR)
    tom.goto("/audit")
    expect(tom.get_by_role("heading", level=1)).to_have_text("Audit chain")

    tom.get_by_role("button", name="Verify the chain against the stored events").click()

    expect(tom).to_have_url(re.compile(r"/audit\?from=1&verify=true$"))
    expect(tom.get_by_role("status").filter(has_text="Verified")).to_have_text(
        re.compile(r"Verified: the \d+ stored events give the recorded chain\."))
    tom.get_by_role("table").get_by_role("link", name=str(stored.id), exact=True).click()

    expect(tom).to_have_url(f"{live.url}/audit/positions/{stored.id}")
    expect(tom.get_by_role("heading", level=1)).to_have_text(f"The event at position {stored.id}")
    facts = tom.locator("dl.facts")
    expect(facts).to_contain_text(stored.topic)
    expect(facts).to_contain_text(f"{deal.oid}, version {stored.originator_version}")
    expect(facts).to_contain_text(re.compile(r"Chain here\s*[0-9a-f]{64}"))  # chained, not "not chained yet"
    shown = tom.locator("pre")
    expect(shown).to_contain_text(f'"closed_on": "{closed_on}"')
    expect(shown).to_contain_text(f'"amount": {amount}')
    expect(shown).to_contain_text('"actor": "lin"')


# -- d: another member's line --------------------------------------------------------------------

def test_a_member_opening_another_member_s_line_gets_the_403_page_and_none_of_its_numbers(
        live: LiveServer, new_context) -> None:
    deal = won(live)
    bob = signed_in(new_context, live, BOB)

    response = bob.goto(f"/allocations/{deal.aid}/members/alice")

    assert response is not None and response.status == 403
    expect(bob.get_by_role("heading", level=1)).to_have_text("Not allowed")
    expect(bob.locator("#explanation, #steps, #counted, #current-amount, form.dispute-form")).to_have_count(0)
    html = bob.content()
    for secret in ALICES:
        assert secret not in html, f"the 403 page shows {secret!r} of alice's line"
    bob.goto(f"/allocations/{deal.aid}")  # his own allocation page: his line, not hers
    expect(bob.locator("#line-bob")).to_be_visible()
    expect(bob.locator("#line-alice")).to_have_count(0)
    html = bob.content()
    assert not any(secret in html for secret in ALICES), "bob's allocation page shows alice's line"


# -- e: the keyboard alone -----------------------------------------------------------------------

def tab_to(page: Page, element_id: str, presses: int = 80) -> None:
    """Press Tab until the element with this id has the focus (it must be reachable by keyboard)."""
    for _ in range(presses):
        if page.evaluate("document.activeElement && document.activeElement.id") == element_id:
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"#{element_id} was not reached with {presses} presses of Tab")


def test_a_member_records_a_contribution_with_the_keyboard_alone(live: LiveServer, new_context) -> None:
    oid = deal_with_bob(live)
    bob = signed_in(new_context, live, BOB)
    bob.goto(f"/opportunities/{oid}")
    expect(bob.locator("#contributions")).to_contain_text("No contributions yet.")
    when = datetime.now(UTC) - timedelta(hours=2)

    tab_to(bob, "kind")
    bob.keyboard.type("demo")  # a focused select picks the option typed
    expect(bob.locator("#kind")).to_have_value("demo")
    tab_to(bob, "summary")
    bob.keyboard.type("Keyboard-only demo for Acme")
    tab_to(bob, "occurred_at")
    # datetime-local in chromium's en-US: month, day and year, then Tab (a year may have up to
    # six digits, so it does not move on by itself) to hour, minute and AM/PM
    bob.keyboard.type(when.strftime("%m%d%Y"))
    bob.keyboard.press("Tab")
    bob.keyboard.type(when.strftime("%I%M") + when.strftime("%p")[0])
    expect(bob.locator("#occurred_at")).to_have_value(when.strftime("%Y-%m-%dT%H:%M"))
    tab_to(bob, "hours")
    bob.keyboard.type("2")
    bob.keyboard.press("Enter")

    expect(bob).to_have_url(re.compile(rf"{re.escape(live.url)}/opportunities/{oid}\?after=\d+$"))
    row = bob.locator("#contributions tbody tr", has_text="Keyboard-only demo for Acme")
    cells = row.locator("th, td")
    for shown in ("bob", "SR", "demo", "recorded"):
        expect(cells.filter(has_text=re.compile(rf"^\s*{shown}\s*$"))).to_have_count(1)

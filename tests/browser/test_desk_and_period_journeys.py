"""Two more journeys in a real browser, each on a fresh store: the AR confirms a rep's work on the
deal's page and the rep's open desk moves it out of "awaiting confirmation" (its points now count
in the rep's line) without a reload; finance closes a month from its period page, watches the
replay's progress, and sees the closed month's counts, totals and chain head."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
from playwright.sync_api import BrowserContext, Page, expect

import books.replay
import web.screens.money
from tests.browser.conftest import LiveServer
from tests.browser.test_journeys import signed_in
from tests.browser.test_live_board import deal_with_bob, not_navigated
from tests.builders import DEAL, contribute, won_deal
from tests.ledger import ALICE, BOB, FINANCE, Clock

DESK_MS = 2000  # the rep's open desk shows the confirmation within this
GATE_SECONDS = 10  # how long the held close waits for the test to have seen its progress


# -- a: the AR confirms, the rep's desk moves it ---------------------------------------------------

def awaiting(page: Page):
    return page.get_by_role("table", name="My work awaiting confirmation")


def my_line(page: Page):
    """The rep's row of the deal in "My open deals: my line if won today"."""
    return page.get_by_role("table", name=re.compile("^My open deals")).get_by_role("row", name=re.compile(
        re.escape(DEAL["name"])))


def test_the_ar_confirms_it_and_the_rep_s_desk_moves_it_to_confirmed(live: LiveServer, new_context) -> None:
    oid = deal_with_bob(live)  # alice (AR) opened it, bob sits as SR
    cid = contribute(live.services.app, oid, BOB, "demo", summary="Demo to Acme's CIO")
    live.services.runner.wait_for(live.services.app.recorder.max_notification_id())
    bob = new_context().new_page()
    with bob.expect_response(lambda r: r.url.startswith(f"{live.url}/events?") and "member%3Abob" in r.url):
        live.sign_in(bob, BOB)  # his desk, its stream open on his member topic
    expect(awaiting(bob)).to_contain_text("Demo to Acme's CIO")
    expect(my_line(bob)).to_contain_text("0.00 CNY")  # recorded work counts for nothing yet
    bob.evaluate("window.stillHere = true")

    alice = signed_in(new_context, live, ALICE)
    alice.goto(f"/opportunities/{oid}")
    alice.locator(f"#contribution-{cid}").get_by_role("button", name="Confirm demo by bob").click()
    expect(alice.locator(f"#contribution-{cid} td").nth(6)).to_have_text("confirmed")

    expect(awaiting(bob)).not_to_contain_text("Demo to Acme's CIO", timeout=DESK_MS)
    expect(awaiting(bob)).to_contain_text("Nothing of mine awaits confirmation.")
    expect(my_line(bob)).to_contain_text("20000.00 CNY")  # the SR's 3 confirmed points: half the pool today
    assert not_navigated(bob), "bob's desk was reloaded or navigated: it should change in place"
    assert bob.url == f"{live.url}/"


def test_a_member_who_is_not_the_ar_is_offered_no_confirm_and_a_forged_one_records_nothing(
        live: LiveServer, new_context) -> None:
    """The four eyes: bob may not confirm his own work, even by posting the form by hand."""
    oid = deal_with_bob(live)
    cid = contribute(live.services.app, oid, BOB, "demo", summary="Demo to Acme's CIO")
    bob = signed_in(new_context, live, BOB)
    bob.goto(f"/opportunities/{oid}")
    expect(bob.locator(f"#contribution-{cid}")).to_contain_text("recorded")
    expect(bob.get_by_role("button", name=re.compile("^Confirm"))).to_have_count(0)
    before = live.services.app.recorder.max_notification_id()
    csrf = bob.locator("input[name=csrf]").first.get_attribute("value")

    forged = bob.request.post(f"{live.url}/opportunities/{oid}/contributions/{cid}/confirm",
                              form={"csrf": csrf}, headers={"Origin": live.url}, max_redirects=0)

    assert forged.status == 403, forged.status
    assert live.services.app.recorder.max_notification_id() == before
    bob.goto("/")
    expect(awaiting(bob)).to_contain_text("Demo to Acme's CIO")


# -- b: finance closes a period --------------------------------------------------------------------

MARCH = "2026-03"


@pytest.fixture
def march(live: LiveServer) -> tuple[LiveServer, Clock]:
    """Acme's deal won, approved and paid in part on 2026-03-15; today is then 2026-04-02, so March
    is over (the application's clock: every page reads it)."""
    clock = Clock(datetime(2026, 3, 15, 12, 0, tzinfo=UTC))
    app = live.services.app
    app.clock = clock
    deal = won_deal(app)
    app.approve_allocation(FINANCE, deal.aid)
    app.receive_payment(FINANCE, deal.oid, amount="400000.00", currency="CNY", received_on="2026-03-15",
                        payment_id="erp-1")
    clock.now = datetime(2026, 4, 2, 9, 0, tzinfo=UTC)
    live.services.runner.wait_for(app.recorder.max_notification_id())
    return live, clock


@pytest.fixture
def held_close(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[], threading.Event]]:
    """Closes replay the log 10 events a read (5000 otherwise: this log is read in one), and the
    first report of progress holds the replay until the test sets the event it gets: the page can
    be seen mid-replay. Nothing else of the close changes."""
    monkeypatch.setattr(books.replay, "BATCH", 10)
    release, reported = threading.Event(), threading.Event()
    real = web.screens.money.close

    def held(*args, progress, **kwargs):
        def report(position: int, cutoff: int) -> None:
            progress(position, cutoff)
            if not reported.is_set():
                reported.set()
                release.wait(GATE_SECONDS)

        return real(*args, progress=report, **kwargs)

    monkeypatch.setattr(web.screens.money, "close", held)
    yield lambda: release
    release.set()


def facts(page: Page, within: str) -> dict[str, str]:
    """A description list's terms and their descriptions, as text."""
    terms = page.locator(f"{within} dt").all_inner_texts()
    return dict(zip(terms, page.locator(f"{within} dd").all_inner_texts(), strict=True))


def test_finance_closes_a_period_and_watches_its_progress(march, new_context, held_close) -> None:
    live, _ = march
    services = live.services
    fiona = signed_in(new_context, live, FINANCE)
    fiona.get_by_role("navigation", name="goldsplit").get_by_role("link", name="Periods").click()
    expect(fiona).to_have_url(f"{live.url}/periods/{MARCH}")  # last month: the one to close
    expect(fiona.locator("#period-status")).to_contain_text("Open")
    month = fiona.locator(f"#month-{MARCH} td")
    entries, totals = month.nth(0).inner_text(), month.nth(2).inner_text()
    assert int(entries) > 0 and totals.endswith(" CNY"), (entries, totals)
    expect(month.nth(3)).to_have_text("open")
    cutoff = services.app.recorder.max_notification_id()  # the head when the close starts
    chain_at_cutoff = services.queries.audit.event(FINANCE, cutoff).chain
    fiona.evaluate("window.stillHere = true")

    fiona.get_by_role("button", name="Close this period").click()

    expect(fiona).to_have_url(f"{live.url}/periods/{MARCH}")
    fiona.evaluate("window.stillHere = true")  # the post's redirect landed here; from now on, in place
    region = fiona.locator("#close-progress")
    expect(region.get_by_role("heading", level=2)).to_have_text(f"Closing {MARCH}")
    expect(region).to_have_attribute("aria-busy", "true")
    expect(fiona.locator("#close-progress-text")).to_have_text(  # the page polls the held replay
        f"Replayed 10 of {cutoff} events ({1000 // cutoff} %).", timeout=3000)
    bar = fiona.locator("#close-bar")
    expect(bar).to_have_attribute("value", "10")
    expect(bar).to_have_attribute("max", str(cutoff))
    expect(fiona.get_by_role("button", name="Close this period")).to_have_count(0)  # one close at a time

    held_close().set()

    expect(region.get_by_role("heading", level=2)).to_have_text(f"{MARCH} is closed", timeout=3000)
    expect(region.get_by_role("status")).to_contain_text(f"proved every number up to position {cutoff}")
    assert not_navigated(fiona), "the period page was reloaded: the region should follow the close in place"
    report = facts(fiona, "#close-done")
    recorded = services.queries.periods.period(FINANCE, MARCH).months[0].closed_report
    assert report["Months"] == MARCH
    assert report["Cut-off"].startswith(f"position {cutoff}:")
    assert report["Events replayed"] == str(recorded.events) and 0 < recorded.events <= cutoff
    assert report["Entries"] == entries == str(recorded.entries)
    assert report["Members"] == "3: alice, bob, carol"
    assert report["Totals"] == totals == "; ".join(f"{a} {c}" for c, a in recorded.totals.items())
    assert report["Chain head"] == chain_at_cutoff == recorded.chain_head
    assert report["Closed by"].startswith("fiona, ")

    fiona.reload()
    expect(fiona.locator("#period-status")).to_contain_text("Closed")
    expect(month.nth(3)).to_have_text(re.compile(r"^closed at position \d+$"))
    expect(fiona.get_by_role("heading", name=f"Close report of {MARCH}")).to_be_visible()
    assert facts(fiona, f"#report-{MARCH}")["Chain head"] == chain_at_cutoff
    expect(fiona.get_by_role("button", name="Close this period")).to_have_count(0)


def test_a_member_who_posts_the_close_form_closes_nothing(march, new_context: Callable[[], BrowserContext]) -> None:
    live, _ = march
    bob = signed_in(new_context, live, BOB)
    assert bob.goto(f"/periods/{MARCH}").status == 403
    bob.goto("/")
    before = live.services.app.recorder.max_notification_id()
    csrf = bob.locator("input[name=csrf]").first.get_attribute("value")  # his session's own token

    forged = bob.request.post(f"{live.url}/periods/{MARCH}/close", form={"csrf": csrf},
                              headers={"Origin": live.url}, max_redirects=0)

    assert forged.status == 403, forged.status
    bob.wait_for_timeout(300)  # a close started anyway would have recorded by now
    assert live.services.app.recorder.max_notification_id() == before
    assert not live.services.queries.periods.period(FINANCE, MARCH).closed

"""Pages that list or queue across documents follow their read model live: the AR's confirmations
queue, the deals list and an account's page refresh themselves when what they show is projected,
without a reload and without wiping what the reader was typing (web/signals.py, `follows`)."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

from playwright.sync_api import BrowserContext, Page, expect

from domain.application import Actor
from tests.browser.conftest import LiveServer
from tests.browser.test_live_board import LIVE_SECONDS, STREAM_MS, deal_with_bob
from tests.builders import contribute, open_deal, worked
from tests.ledger import ALICE, BOB, DAVE, LEAD


def follow(new_context: Callable[[], BrowserContext], live: LiveServer, who: Actor, path: str,
           topics: str) -> Page:
    """`who`'s page at `path`, once its event stream on `topics` is open, marked as not reloaded."""
    page = new_context().new_page()
    live.sign_in(page, who)

    def opened(response) -> bool:
        url = urlsplit(response.url)
        return url.path == "/events" and parse_qs(url.query).get("topics") == [topics]

    with page.expect_response(opened, timeout=STREAM_MS) as stream:
        page.goto(path)
    assert stream.value.status == 200
    page.evaluate("window.stillHere = true")
    return page


def test_the_ar_s_confirmations_queue_shows_new_work_without_a_reload(live: LiveServer, new_context) -> None:
    oid = deal_with_bob(live)
    alice = follow(new_context, live, ALICE, "/queues/confirmations", "boards")
    expect(alice.locator("main")).not_to_contain_text("bob's first call")

    contribute(live.services.app, oid, BOB, "visit", summary="bob's first call")

    expect(alice.locator("main")).to_contain_text("bob's first call", timeout=LIVE_SECONDS * 1000)
    expect(alice.get_by_role("button", name="Confirm")).to_have_count(1)
    assert alice.evaluate("window.stillHere === true"), "the queue was reloaded, not refreshed"


def test_the_deals_list_shows_a_new_deal_and_keeps_what_the_reader_was_typing(
        live: LiveServer, new_context) -> None:
    lena = follow(new_context, live, LEAD, "/opportunities", "boards")
    lena.locator("#filters input[name=q]").fill("half-typed")

    open_deal(live.services.app, ALICE, name="Globex warehouse")

    expect(lena.locator("main")).to_contain_text("Globex warehouse", timeout=LIVE_SECONDS * 1000)
    expect(lena.locator("#filters input[name=q]")).to_have_value("half-typed")
    assert lena.evaluate("window.stillHere === true")


def test_a_member_s_list_never_gains_a_deal_they_are_not_on(live: LiveServer, new_context) -> None:
    deal_with_bob(live)
    bob = follow(new_context, live, BOB, "/opportunities", "boards")
    expect(bob.locator("main")).to_contain_text("Acme")
    seen = bob.locator("main").inner_text()

    open_deal(live.services.app, DAVE, name="Dave's secret deal")
    contribute(live.services.app, deal_with_bob(live), BOB, "visit")  # a signal bob's list follows

    bob.wait_for_timeout(LIVE_SECONDS * 500)
    assert "Dave's secret deal" not in bob.locator("main").inner_text()
    assert bob.locator("main").inner_text().count("Acme") >= seen.count("Acme")


def test_my_desk_follows_my_open_deal_whose_new_work_moves_my_projected_line(live: LiveServer, new_context) -> None:
    """alice's confirmed work on the deal changes bob's share of it: his desk's projected line moves
    in place, though nothing of bob's own changed."""
    oid = deal_with_bob(live)
    worked(live.services.app, oid, BOB, "demo")
    live.services.runner.wait_for(live.services.app.recorder.max_notification_id())
    bob = new_context().new_page()
    with bob.expect_response(lambda r: urlsplit(r.url).path == "/events", timeout=STREAM_MS):
        live.sign_in(bob, BOB)
    bob.evaluate("window.stillHere = true")
    line = bob.locator("#desk tr", has_text="Acme core banking").locator("td").last
    before = line.inner_text()

    worked(live.services.app, oid, ALICE, "visit")

    expect(line).not_to_have_text(before, timeout=LIVE_SECONDS * 1000)
    assert bob.evaluate("window.stillHere === true"), "the desk was reloaded, not refreshed"

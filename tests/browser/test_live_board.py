"""The web app in a real browser: a deal's board kept live between two people's pages, the AR's
confirm button, a reader off the deal finding nothing, and the pages' accessibility (axe-core).
Each test runs on a fresh store, served on a port of its own (conftest.py)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import BrowserContext, Page, Response, Route, expect

from domain.application import Actor
from tests.browser.conftest import LiveServer
from tests.builders import DEAL, contribute, open_deal, seat_triangle
from tests.ledger import ALICE, BOB, DAVE, LEAD

LIVE_SECONDS = 3  # a change shows on an open page within this (the stream polls every 50 ms)
STREAM_MS = 2000  # a live page opens its event stream within this of loading
SERIOUS = ("serious", "critical")


def deal_with_bob(live: LiveServer) -> str:
    """alice opens Acme's deal (she takes the AR seat) and the lead seats bob as SR: its id."""
    oid = open_deal(live.services.app, ALICE)
    seat_triangle(live.services.app, oid, LEAD, SR="bob")
    return oid


def board_stream(oid: str) -> Callable[[Response], bool]:
    """Whether a response is the opening of the event stream of this deal's board (and not, say,
    of the desk the browser was on a moment before)."""
    def opened(response: Response) -> bool:
        url = urlsplit(response.url)
        return url.path == "/events" and parse_qs(url.query).get("topics") == [f"board:{oid}"]

    return opened


def open_live(page: Page, oid: str) -> None:
    """Open a deal's page that must follow its board live, and wait until its event stream is open."""
    with page.expect_response(board_stream(oid), timeout=STREAM_MS) as stream:
        page.goto(f"/opportunities/{oid}")
    assert stream.value.status == 200, f"the page's event stream answered {stream.value.status}"


def page_of(new_context: Callable[[], BrowserContext], live: LiveServer, who: Actor, oid: str,
            *, follows: bool = False) -> Page:
    """A browser context of `who`'s own, signed in, on the deal's page (with its event stream open
    if the page `follows` the board live); the page is marked so that a test can tell it was not
    reloaded or navigated away since."""
    page = new_context().new_page()
    live.sign_in(page, who)
    if follows:
        open_live(page, oid)
    else:
        page.goto(f"/opportunities/{oid}")
    expect(page.locator("#live")).to_be_attached()
    page.evaluate("window.stillHere = true")
    return page


def after_write(live: LiveServer, oid: str) -> re.Pattern:
    """Where a form's post sends the browser: the board, read at least as new as the write."""
    return re.compile(rf"{re.escape(live.url)}/opportunities/{oid}\?after=\d+$")


def not_navigated(page: Page) -> bool:
    return page.evaluate("window.stillHere === true")


def test_a_contribution_recorded_on_the_form_shows_on_the_ar_s_open_page_without_a_reload(
        live: LiveServer, new_context) -> None:
    oid = deal_with_bob(live)
    alice = page_of(new_context, live, ALICE, oid, follows=True)
    expect(alice.locator("#contributions")).to_contain_text("No contributions yet.")
    bob = page_of(new_context, live, BOB, oid)
    when = (datetime.now(UTC) - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")

    bob.get_by_label("Kind").select_option("demo")
    bob.get_by_label("Summary").fill("Live demo of the ledger for Acme")
    bob.get_by_label("When (UTC)").fill(when)
    bob.get_by_label("Hours").fill("3")
    bob.get_by_role("button", name="Record").click()

    expect(bob).to_have_url(after_write(live, oid))
    expect(bob.locator("#contributions")).to_contain_text("Live demo of the ledger for Acme")
    expect(alice.locator("#contributions")).to_contain_text("Live demo of the ledger for Acme",
                                                            timeout=LIVE_SECONDS * 1000)
    row = alice.locator("#contributions tbody tr", has_text="Live demo of the ledger for Acme")
    expect(row).to_contain_text("bob")
    expect(row.get_by_role("button", name="Confirm demo by bob")).to_be_visible()
    assert not_navigated(alice), "alice's page was reloaded or navigated: the board should change in place"
    assert alice.url == f"{live.url}/opportunities/{oid}"


def test_the_ar_confirms_with_the_button_and_the_rep_s_open_page_shows_it_confirmed(
        live: LiveServer, new_context) -> None:
    oid = deal_with_bob(live)
    cid = contribute(live.services.app, oid, BOB, "demo", summary="Demo to Acme's CIO")
    bob = page_of(new_context, live, BOB, oid, follows=True)
    status = bob.locator(f"#contribution-{cid} td").nth(6)
    expect(status).to_have_text("recorded")
    alice = page_of(new_context, live, ALICE, oid)

    alice.locator(f"#contribution-{cid}").get_by_role("button", name="Confirm demo by bob").click()

    expect(alice).to_have_url(after_write(live, oid))
    expect(alice.locator(f"#contribution-{cid} td").nth(6)).to_have_text("confirmed")
    expect(alice.locator(f"#contribution-{cid}").get_by_role("button")).to_have_count(0)
    expect(status).to_have_text("confirmed", timeout=LIVE_SECONDS * 1000)
    assert not_navigated(bob), "bob's page was reloaded or navigated: the board should change in place"


def test_a_member_off_the_deal_gets_the_not_found_page_and_nothing_of_the_deal(
        live: LiveServer, context: BrowserContext) -> None:
    oid = deal_with_bob(live)
    cid = contribute(live.services.app, oid, BOB, "demo", summary="Demo to Acme's CIO")
    page = context.new_page()
    live.sign_in(page, DAVE)

    response = page.goto(f"/opportunities/{oid}")

    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Not found")
    html = page.content()
    for secret in (DEAL["name"], DEAL["account_id"], "Demo to Acme's CIO", cid, "bob"):
        assert secret not in html, f"the 404 page shows {secret!r}"
    expect(page.locator("#board, #contributions, #live")).to_have_count(0)
    for path in (f"/opportunities/{oid}/board", f"/events?topics=board:{oid}"):
        refused = page.request.get(f"{live.url}{path}", timeout=3000)
        assert refused.status == 404, f"{path}: {refused.status}"
        assert DEAL["name"] not in refused.text() and "Demo to Acme's CIO" not in refused.text()


def serious_violations(page: Page) -> list[dict]:
    results = Axe().run(page)
    found = [v for v in results.response["violations"] if v["impact"] in SERIOUS]
    if results.violations_count:
        print(f"axe on {page.url}:\n{results.generate_report()}")
    return found


def test_the_desk_and_the_opportunity_page_have_no_serious_accessibility_violation(
        live: LiveServer, context: BrowserContext) -> None:
    oid = deal_with_bob(live)
    contribute(live.services.app, oid, BOB, "demo", summary="Demo to Acme's CIO")
    page = context.new_page()
    live.sign_in(page, ALICE)  # the AR: her desk lists the deal; her board has a Confirm button
    expect(page.get_by_role("link", name=DEAL["name"])).to_be_visible()
    desk = serious_violations(page)

    page.goto(f"/opportunities/{oid}")
    expect(page.get_by_role("button", name="Confirm demo by bob")).to_be_visible()
    expect(page.get_by_role("button", name="Record")).to_be_visible()
    board = serious_violations(page)

    assert not desk and not board, [(v["id"], v["impact"], v["help"]) for v in desk + board]


def test_a_page_goes_live_even_when_its_sse_extension_arrives_after_htmx(
        live: LiveServer, context: BrowserContext) -> None:
    """htmx 4 starts at once when it runs after the document was parsed: a deferred htmx could
    start before the deferred SSE extension ran, and the page would never open its stream. So
    base.html loads both without `defer`; held back here, the extension still comes first."""
    oid = deal_with_bob(live)
    page = context.new_page()
    live.sign_in(page, ALICE)
    held: list[Route] = []
    page.route("**/ext/hx-sse.min.js", lambda route: held.append(route))
    page.goto(f"/opportunities/{oid}", wait_until="commit")
    page.wait_for_timeout(300)  # htmx, if it could start without the extension, has started

    with page.expect_response(board_stream(oid), timeout=STREAM_MS):
        held[0].continue_()

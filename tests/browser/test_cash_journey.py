"""Finance records a payment and the desk's payable moves: bob has his desk open, fiona of finance
follows the allocation page's link to the deal's money page and records a quarter of the deal as
paid, and bob's open desk shows his new payable and held figures in place, without a reload.

The desk's region refreshes on the `member` signal of its stream. A payment changes the board
read model (the deal's document: every event of the deal moves it), the allocation read model
(the Released event's entries), and the payables read model (bob's entries of the month), but
no member board kept anything of it: projections/members.py now moves the member boards of the
members an allocation event names, so the payment signals `member:bob`."""

from __future__ import annotations

import copy
import re
from urllib.parse import parse_qs, urlsplit

from playwright.sync_api import Page, Response, expect

from domain.policy import DEFAULT_INCENTIVE_DOCUMENT
from tests.browser.conftest import LiveServer
from tests.browser.test_live_board import LIVE_SECONDS, STREAM_MS, not_navigated, serious_violations
from tests.builders import won_deal
from tests.ledger import BOB, FINANCE

PAYABLE, HELD, PAID, ADJUSTMENTS = 1, 2, 3, 4  # cells of a currency's row of the desk's money


def desk_stream(member: str):
    def opened(response: Response) -> bool:
        url = urlsplit(response.url)
        return url.path == "/events" and f"member:{member}" in parse_qs(url.query)["topics"][0].split(",")

    return opened


def money(page: Page, column: int):
    return page.locator("#money-CNY").locator("th, td").nth(column)


def test_finance_records_a_payment_and_the_desks_payable_moves(live: LiveServer, new_context) -> None:
    """Acme's deal (CNY 1,000,000.00) won under a 40 % holdback and approved: bob's 10,000.00 is
    6,000.00 payable and 4,000.00 held; 250,000.00 received releases a quarter of what is held."""
    app = live.services.app
    app.add_policy(FINANCE, "incentive", {**copy.deepcopy(DEFAULT_INCENTIVE_DOCUMENT),
                                          "effective_from": "2020-01-01", "holdback": "0.4"})
    deal = won_deal(app)
    app.approve_allocation(FINANCE, deal.aid)
    live.services.runner.wait_for(app.recorder.max_notification_id())

    bob = new_context().new_page()
    with bob.expect_response(desk_stream("bob"), timeout=STREAM_MS) as stream:
        live.sign_in(bob, BOB)
    assert stream.value.status == 200
    expect(money(bob, PAYABLE)).to_have_text("6000.00")
    expect(money(bob, HELD)).to_have_text("4000.00")
    expect(money(bob, PAID)).to_have_text("0.00")
    bob.evaluate("window.stillHere = true")

    fiona = live.sign_in(new_context().new_page(), FINANCE)
    fiona.goto(f"/allocations/{deal.aid}")
    fiona.get_by_role("link", name="its money: payments, refunds, cancellation").click()
    expect(fiona).to_have_url(f"{live.url}/opportunities/{deal.oid}/money")
    expect(fiona.locator("#payments")).to_contain_text("No payment received yet.")
    payment = fiona.locator("#payment-form")
    expect(payment.get_by_label("Currency")).to_have_value("CNY")
    payment.get_by_label("Amount").fill("250000.00")
    payment.get_by_role("button", name="Record the payment").click()

    expect(fiona).to_have_url(re.compile(rf"{re.escape(live.url)}/opportunities/{deal.oid}/money\?after=\d+$"))
    expect(fiona.locator("#payments tbody tr")).to_have_count(1)
    expect(fiona.locator("#payments")).to_contain_text("250000.00 CNY")
    expect(fiona.locator("#cash-released")).to_contain_text("1/4")

    expect(money(bob, PAYABLE)).to_have_text("7000.00", timeout=LIVE_SECONDS * 1000)
    expect(money(bob, HELD)).to_have_text("3000.00")
    expect(money(bob, PAID)).to_have_text("0.00")  # payable, not paid out: its month is not closed
    expect(money(bob, ADJUSTMENTS)).to_have_text("0.00")
    assert not_navigated(bob), "bob's desk was reloaded: it should change in place"


def test_the_money_page_with_a_refusal_and_the_desks_money_have_no_serious_accessibility_violation(
        live: LiveServer, new_context) -> None:
    app = live.services.app
    deal = won_deal(app)
    app.approve_allocation(FINANCE, deal.aid)
    app.receive_payment(FINANCE, deal.oid, amount="250000.00", currency="CNY",
                        received_on=app.clock().date().isoformat(), payment_id="erp-1")
    page = live.sign_in(new_context().new_page(), FINANCE)
    page.goto(f"/opportunities/{deal.oid}/money")
    expect(page.locator("#refund-form")).to_be_visible()
    assert serious_violations(page) == []
    refund = page.locator("#refund-form")
    refund.get_by_label("Amount").fill("250000.01")  # over the cash collected
    refund.get_by_label("Reason").fill("more than was paid")
    refund.get_by_role("button", name="Record the refund").click()
    expect(page.locator("#refusal")).to_contain_text("is over the cash collected")
    expect(refund.get_by_label("Amount")).to_have_attribute("aria-invalid", "true")
    assert serious_violations(page) == []
    bob = live.sign_in(new_context().new_page(), BOB)
    expect(bob.locator("#money-deals")).to_be_visible()
    assert serious_violations(bob) == []

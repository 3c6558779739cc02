"""A won deal's money page without a browser: finance records a payment, a refund and a
cancellation on `/opportunities/{id}/money` through the same commands as the JSON API; each form
records once when sent twice, a refusal shows beside the field it names and records nothing, a
cross-site post records nothing, and whoever the domain does not let record a payment (a member,
finance with a line in the split) is not offered the form and is refused a forged post. The desk
shows my money as payable now, held, paid and adjustments, to the minor unit, before and after a
payment recorded on that page.

The books: Acme's deal (CNY 1,000,000.00, grade A, pool 30,000.00) won on 2026-03-15 with a 40 %
holdback and approved, so bob's line of 10,000.00 is 6,000.00 payable and 4,000.00 held."""

from __future__ import annotations

import copy
import re
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from books.close import close
from domain.application import Actor
from domain.policy import DEFAULT_INCENTIVE_DOCUMENT
from main.services import Services
from projections.allocations import DEALS
from tests.builders import WonDeal, open_deal, seat_triangle, win, won_deal, worked
from tests.e2e.test_web import HERE, browser, signed_in
from tests.e2e.test_web_money import Clock, clock, csrf_of, world  # noqa: F401 - fixtures: the clock stands at 2026-03-15
from tests.ledger import ALICE, BOB, FINANCE, LEAD, events, head

ORIGIN = {"Origin": HERE}
PAYMENT = {"amount": "250000.00", "currency": "CNY", "received_on": "2026-03-15"}
REFUND = {"amount": "50000.00", "reason": "one site descoped"}
CANCEL = {"reason": "the customer withdrew from the pilot"}


@pytest.fixture
def books(world: Services) -> WonDeal:  # noqa: F811 - the imported fixture
    """The deal won on 2026-03-15 under a 40 % holdback, approved; no cash yet."""
    world.app.add_policy(FINANCE, "incentive", {**copy.deepcopy(DEFAULT_INCENTIVE_DOCUMENT),
                                                "effective_from": "2020-01-01", "holdback": "0.4"})
    deal = won_deal(world.app)
    world.app.approve_allocation(FINANCE, deal.aid)
    world.runner.catch_up()
    return deal


def money(deal: WonDeal) -> str:
    return f"/opportunities/{deal.oid}/money"


def form(page: str, which: str) -> dict[str, str]:
    """The hidden fields of one of the page's forms: the session's token and, but for the
    cancellation, its fresh key."""
    found = re.search(rf'<form [^>]*id="{which}-form">(.*?)</form>', page, re.S)
    assert found, f"no {which} form on the page"
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]+)">', found.group(1)))


def kinds(world: Services, deal: WonDeal) -> list[str]:  # noqa: F811
    return [type(e).__name__ for e in events(world.app, deal.oid)]


def cells(page: str, row_id: str) -> list[str]:
    row = re.search(rf'<tr id="{re.escape(row_id)}">(.*?)</tr>', page, re.S)
    assert row, f"no row {row_id}"
    return [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row.group(1), re.S)]


def post(client: TestClient, deal: WonDeal, which: str, data: dict, **kwargs):
    action = {"payment": "payments", "refund": "refunds", "cancel": "cancel"}[which]
    return client.post(f"{money(deal)}/{action}", data=data, **kwargs)


def finance(world: Services, member: str = "fiona") -> TestClient:  # noqa: F811
    return signed_in(browser(world), world, member, "finance")


# -- each form records once ------------------------------------------------------------------------

def test_finance_records_a_payment_once_even_sent_twice_and_the_page_lists_it_with_its_position(
        world: Services, books: WonDeal) -> None:  # noqa: F811
    with finance(world) as fiona:
        page = fiona.get(money(books))
        fields = {**form(page.text, "payment"), **PAYMENT}
        first = post(fiona, books, "payment", fields, headers=ORIGIN, follow_redirects=False)
        second = post(fiona, books, "payment", fields, headers=ORIGIN, follow_redirects=False)
        after = fiona.get(first.headers["location"])

    assert page.status_code == 200 and 'id="no-payment-form"' not in page.text
    assert first.status_code == second.status_code == 303
    assert re.fullmatch(rf"{money(books)}\?after=\d+", first.headers["location"])
    assert kinds(world, books).count("PaymentReceived") == 1
    [payment] = world.queries.allocations.cash(FINANCE, books.oid).payments
    assert cells(after.text, f"payment-{payment.payment_id}") == [
        str(payment.position), payment.payment_id, "2026-03-15", "250000.00 CNY", "fiona", ""]
    assert f'href="/audit/positions/{payment.position}"' in after.text
    assert 'id="cash-incomplete"' not in after.text  # the read model kept every cash fact
    assert '<dd id="cash-collected">250000.00 CNY' in after.text
    assert "<output>1/4</output> = 250000.00 / 1000000.00 CNY, 25 %" in after.text


def test_a_payment_with_the_erps_id_is_recorded_under_it(world: Services, books: WonDeal) -> None:  # noqa: F811
    with finance(world) as fiona:
        fields = {**form(fiona.get(money(books)).text, "payment"), **PAYMENT, "payment_id": "ERP-2026-0042"}
        post(fiona, books, "payment", fields, headers=ORIGIN)
    assert [p.payment_id for p in world.queries.allocations.cash(FINANCE, books.oid).payments] == ["ERP-2026-0042"]


def test_finance_records_a_refund_once_even_sent_twice(world: Services, books: WonDeal) -> None:  # noqa: F811
    world.app.receive_payment(FINANCE, books.oid, amount="250000.00", currency="CNY", received_on="2026-03-15")
    world.runner.catch_up()
    with finance(world) as fiona:
        page = fiona.get(money(books))
        fields = {**form(page.text, "refund"), **REFUND}
        first = post(fiona, books, "refund", fields, headers=ORIGIN, follow_redirects=False)
        second = post(fiona, books, "refund", fields, headers=ORIGIN, follow_redirects=False)
        after = fiona.get(first.headers["location"]).text

    assert first.status_code == second.status_code == 303
    assert kinds(world, books).count("Refunded") == 1
    [refund] = world.queries.allocations.cash(FINANCE, books.oid).refunds
    assert cells(after, f"refund-{refund.refund_id}") == [
        str(refund.position), refund.refund_id, "2026-03-15", "50000.00 CNY", "one site descoped", "fiona"]
    assert '<dd id="cash-amount">950000.00 CNY <small>(won at 1000000.00' in after
    assert "<output>4/19</output> = 200000.00 / 950000.00 CNY, ≈ 21.05 %" in after


def test_finance_cancels_the_won_deal_once_even_sent_twice_and_no_form_is_left(
        world: Services, books: WonDeal) -> None:  # noqa: F811
    with finance(world) as fiona:
        page = fiona.get(money(books))
        assert "key" not in form(page.text, "cancel")  # a deal is cancelled once: no id to derive
        fields = {**form(page.text, "cancel"), **CANCEL}
        first = post(fiona, books, "cancel", fields, headers=ORIGIN, follow_redirects=False)
        second = post(fiona, books, "cancel", fields, headers=ORIGIN, follow_redirects=False)
        after = fiona.get(first.headers["location"]).text

    assert first.status_code == 303 and re.fullmatch(rf"{money(books)}\?after=\d+", first.headers["location"])
    assert second.status_code == 303 and second.headers["location"] == money(books)
    assert kinds(world, books).count("Cancelled") == 1
    assert '<dd id="cash-stage"><strong>cancelled</strong>' in after
    assert "the customer withdrew from the pilot" in after
    for which in ("payment", "refund", "cancel"):
        assert f'id="{which}-form"' not in after
        assert f'id="no-{which}-form"><small>Not offered to you: the deal is cancelled.' in after


def test_a_cancellation_another_member_of_finance_recorded_meanwhile_is_shown_as_the_refusal(
        world: Services, books: WonDeal) -> None:  # noqa: F811
    with finance(world) as fiona:
        fields = {**form(fiona.get(money(books)).text, "cancel"), **CANCEL}
        world.app.cancel_won_deal(Actor("frank", "finance"), books.oid, "withdrawn, says frank")
        before = head(world.app)
        refused = post(fiona, books, "cancel", fields, headers=ORIGIN)
    assert refused.status_code == 409 and re.search(r'id="refusal" role="alert"[^>]*>the opportunity is cancelled',
                                                     refused.text)
    assert "withdrawn, says frank" in refused.text and head(world.app) == before


# -- refusals: beside their field, nothing recorded --------------------------------------------------

@pytest.mark.parametrize("which, changes, field, status", [
    ("payment", {"amount": "1000000.01"}, "amount", 422),  # over the outstanding amount
    ("payment", {"amount": "-5"}, "amount", 422),
    ("payment", {"currency": "EUR"}, "currency", 422),
    ("payment", {"received_on": "2026-03-16"}, "received_on", 422),  # tomorrow
    ("payment", {"received_on": "2026-03-14"}, "received_on", 422),  # before the win
    ("payment", {"payment_id": "no spaces"}, "payment_id", 422),
    ("refund", {"amount": "250000.01"}, "amount", 422),  # over the cash collected
    ("refund", {"reason": "  "}, "reason", 422),
    ("refund", {"refund_id": ".."}, "refund_id", 422),
    ("cancel", {"reason": ""}, "reason", 422),
], ids=lambda v: v if isinstance(v, str) else None)
def test_a_refused_form_shows_the_rule_beside_its_field_keeps_what_was_typed_and_records_nothing(
        world: Services, books: WonDeal, which: str, changes: dict, field: str, status: int) -> None:  # noqa: F811
    world.app.receive_payment(FINANCE, books.oid, amount="250000.00", currency="CNY", received_on="2026-03-15")
    world.runner.catch_up()
    given = {"payment": PAYMENT, "refund": REFUND, "cancel": CANCEL}[which]
    with finance(world) as fiona:
        fields = {**form(fiona.get(money(books)).text, which), **given, **changes}
        before = head(world.app)
        refused = post(fiona, books, which, fields, headers=ORIGIN)

    assert refused.status_code == status
    assert head(world.app) == before
    invalid = re.findall(r'id="([\w-]+)" name="(\w+)"[^>]*aria-invalid="true" aria-describedby="refusal"',
                         refused.text)
    assert invalid == [(f"{which}-{field}", field)]
    assert re.search(rf'<p id="refusal" role="alert" class="banner">[^<]+</p>\s*'
                     rf'(?:<p[^>]*>[^<]*</p>\s*)?<form method="post" action="[^"]+" id="{which}-form">',
                     refused.text), "the refusal shows above its own form"
    typed = changes.get(field, "")
    if typed.strip() and field != "received_on":
        assert f'name="{field}"' in refused.text and f'value="{typed}"' in refused.text


# -- who may: four eyes, roles, and posts from elsewhere ---------------------------------------------

@pytest.fixture
def fionas_line(world: Services) -> WonDeal:  # noqa: F811
    """A deal fiona of finance worked on as a supporter: she has a line in its split."""
    oid = open_deal(world.app, ALICE)
    seat_triangle(world.app, oid, LEAD, SR="bob", supporters=["fiona"])
    worked(world.app, oid, Actor("fiona", "member"), "pricing_review", confirmed_by=ALICE)
    worked(world.app, oid, BOB, "demo", confirmed_by=ALICE)
    aid = win(world.app, oid, by=ALICE)
    world.runner.catch_up()
    return WonDeal(oid, aid, {})


def test_finance_with_a_line_is_not_offered_the_payment_form_and_a_forged_one_records_nothing(
        world: Services, fionas_line: WonDeal) -> None:  # noqa: F811
    with finance(world) as fiona:
        page = fiona.get(money(fionas_line))
        forged = {"csrf": form(page.text, "cancel")["csrf"], "key": "forged-key", **PAYMENT}
        before = head(world.app)
        refused = post(fiona, fionas_line, "payment", forged, headers=ORIGIN)

    assert page.status_code == 200 and 'id="payment-form"' not in page.text
    assert ('id="no-payment-form"><small>Not offered to you: you have a line in this allocation: another '
            'member of finance records its payments.') in page.text
    assert refused.status_code == 403 and "you have a line in this allocation" in refused.text
    assert head(world.app) == before and "PaymentReceived" not in kinds(world, fionas_line)
    with finance(world, "frank") as frank:  # another member of finance may
        assert 'id="payment-form"' in frank.get(money(fionas_line)).text


def test_a_member_gets_the_403_page_for_the_money_page_and_a_forged_payment_records_nothing(
        world: Services, books: WonDeal) -> None:  # noqa: F811
    with signed_in(browser(world), world, "bob") as bob:
        page = bob.get(money(books))
        region = bob.get(f"{money(books)}/region")
        csrf = csrf_of(bob.get("/").text)
        before = head(world.app)
        refused = [post(bob, books, which, {"csrf": csrf, "key": "forged-key", **given}, headers=ORIGIN)
                   for which, given in (("payment", PAYMENT), ("refund", REFUND), ("cancel", CANCEL))]
        allocation = bob.get(f"/allocations/{books.aid}").text

    assert page.status_code == region.status_code == 403
    assert "Not allowed" in page.text and "1000000.00" not in page.text and "Acme" not in page.text
    assert [r.status_code for r in refused] == [403, 403, 403]
    assert "only finance or admin records payments" in refused[0].text
    assert head(world.app) == before and kinds(world, books).count("PaymentReceived") == 0
    assert f'href="{money(books)}"' not in allocation  # the link is for readers of the books


def test_an_auditor_reads_the_page_without_a_form_and_finance_reaches_it_from_the_allocation(
        world: Services, books: WonDeal) -> None:  # noqa: F811
    with signed_in(browser(world), world, "audrey", "auditor") as auditor:
        page = auditor.get(money(books)).text
    with finance(world) as fiona:
        allocation = fiona.get(f"/allocations/{books.aid}").text
    assert "Money of Acme core banking" in page and not re.search(r'id="\w+-form"', page)
    assert page.count("Not offered to you: only finance") == 3
    assert f'href="{money(books)}"' in allocation


@pytest.mark.parametrize("which", ["payment", "refund", "cancel"])
@pytest.mark.parametrize("headers, token", [
    ({"Origin": "https://evil.example"}, "right"),
    ({"Origin": "http://127.0.0.1.evil.example"}, "right"),
    ({}, "right"),
    (ORIGIN, "wrong"),
], ids=["other-origin", "look-alike-origin", "no-origin", "other-token"])
def test_a_cross_site_money_post_is_refused_and_records_nothing(
        world: Services, books: WonDeal, which: str, headers: dict, token: str) -> None:  # noqa: F811
    world.app.receive_payment(FINANCE, books.oid, amount="250000.00", currency="CNY", received_on="2026-03-15")
    world.runner.catch_up()
    given = {"payment": PAYMENT, "refund": REFUND, "cancel": CANCEL}[which]
    with finance(world) as fiona:
        fields = {**form(fiona.get(money(books)).text, which), **given}
        if token == "wrong":
            fields["csrf"] = "forged"
        before = head(world.app)
        refused = post(fiona, books, which, fields, headers=headers)
    assert refused.status_code == 403 and "not sent from this site" in refused.text
    assert head(world.app) == before


def test_a_read_model_older_than_the_cash_it_keeps_says_so_on_the_page(
        world: Services, books: WonDeal) -> None:  # noqa: F811
    older = {k: v for k, v in world.views.get(DEALS, books.oid).items()
             if k not in ("payments", "refunds", "cash", "cancellation")}
    world.views.commit({}, {(DEALS, books.oid): older})
    with finance(world) as fiona:
        page = fiona.get(money(books)).text
    assert re.search(r'id="cash-incomplete" class="warning" role="note">The read model keeps this deal.s cash '
                     r'from none of its events yet.*goldsplit rebuild', page, re.S)


def test_a_deal_not_won_has_no_money_page(world: Services) -> None:  # noqa: F811
    still_open = open_deal(world.app, ALICE)
    world.runner.catch_up()
    with finance(world) as fiona:
        page = fiona.get(f"/opportunities/{still_open}/money")
    assert page.status_code == 404 and "not won" in page.text


# -- my desk: my money -----------------------------------------------------------------------------

def test_the_desk_shows_my_money_as_payable_held_paid_and_adjustments_before_and_after_a_payment(
        world: Services, books: WonDeal) -> None:  # noqa: F811
    with signed_in(browser(world), world, "bob") as bob:
        before = bob.get("/").text
        with finance(world) as fiona:
            fields = {**form(fiona.get(money(books)).text, "payment"), **PAYMENT}
            assert post(fiona, books, "payment", fields, headers=ORIGIN, follow_redirects=False).status_code == 303
        region = bob.get("/desk").text  # what the page re-fetches when its member topic signals
        after = bob.get("/").text

    # approved: 6,000.00 upfront payable, 4,000.00 held; a quarter of the deal paid releases 1,000.00
    assert cells(before, "money-CNY") == ["CNY", "6000.00", "4000.00", "0.00", "0.00", "0.00"]
    assert cells(region, "money-CNY") == cells(after, "money-CNY") == [
        "CNY", "7000.00", "3000.00", "0.00", "0.00", "0.00"]
    assert cells(after, f"money-deal-{books.oid}") == [
        "Acme core banking", "approved", "7000.00 CNY", "3000.00 CNY", "0.00 CNY", "0.00 CNY", "0.00 CNY"]
    assert f'href="/allocations/{books.aid}/members/bob"' in after
    assert re.search(r'hx-get="/desk" hx-trigger="member from:#live[,"]', after)  # it refreshes on bob's topic
    assert "My open deals: my line if won today (projected, not earned)" in after


def test_the_desk_counts_a_closed_months_entries_as_paid_and_a_later_refund_as_an_adjustment(
        world: Services, books: WonDeal, clock: Clock) -> None:  # noqa: F811
    world.app.receive_payment(FINANCE, books.oid, amount="250000.00", currency="CNY", received_on="2026-03-15")
    clock.now = datetime(2026, 4, 2, 9, 0, tzinfo=UTC)
    close(world.app, world.views, FINANCE, "2026-03", catch_up=lambda _: world.runner.catch_up())
    world.app.refund(FINANCE, books.oid, amount="50000.00", reason="one site descoped")
    world.runner.catch_up()
    with signed_in(browser(world), world, "bob") as bob:
        desk = bob.get("/").text
    # March (closed) paid 7,000.00; the refund makes bob's line 9,500.00: -500.00 booked in April
    assert cells(desk, "money-CNY") == ["CNY", "-500.00", "3000.00", "7000.00", "-500.00", "0.00"]
    assert "(closed months: 2026-03)" in desk


def test_a_proposed_line_shows_as_awaiting_approval_and_a_member_without_a_line_earned_nothing(
        world: Services) -> None:  # noqa: F811
    won_deal(world.app)
    world.runner.catch_up()
    with signed_in(browser(world), world, "bob") as bob:
        desk = bob.get("/").text
    with signed_in(browser(world), world, "dave") as dave:
        nothing = dave.get("/").text
    assert cells(desk, "money-CNY") == ["CNY", "0.00", "0.00", "0.00", "0.00", "10000.00"]
    assert "Nothing earned yet." in nothing and 'id="money-deals"' not in nothing

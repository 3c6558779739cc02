"""A member's money as their desk shows it (MemberQuery.money) and a won deal's cash as finance's
money page shows it (AllocationQuery.cash), read from the Application in memory with a clock the
test moves: exact figures after each fact, and who may read them.

The story: Acme's deal (CNY 1,000,000.00, grade A, pool 30,000.00) won on 2026-03-16 with a 40 %
holdback, so bob's line of 10,000.00 is 6,000.00 upfront and 4,000.00 held; alice's 13,333.33 is
8,000.00 + 5,333.33; carol's 6,666.67 is 4,000.00 + 2,666.67."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from books.close import close
from domain.application import Actor
from domain.exceptions import AllocationNotFound, MemberNotFound, NotAllowed, OpportunityNotFound
from domain.policy import DEFAULT_INCENTIVE_DOCUMENT
from main.services import Services
from projections.allocations import DEALS
from queries.allocations import DealCashOut
from queries.members import MemberMoneyOut
from tests.builders import WonDeal, open_deal, services_in_memory, won_deal
from tests.ledger import ADMIN, ALICE, AUDITOR, BOB, DAVE, FINANCE, LEAD, Clock, head

NOW = datetime(2026, 3, 16, 9, 0, tzinfo=UTC)
ZERO = "0.00"


@pytest.fixture
def world(clock: Clock) -> Iterator[Services]:
    built = services_in_memory(clock)
    built.app.add_policy(FINANCE, "incentive", {**copy.deepcopy(DEFAULT_INCENTIVE_DOCUMENT),
                                                "effective_from": "2026-01-01", "holdback": "0.4"})
    yield built
    built.close()


@pytest.fixture
def deal(world: Services) -> WonDeal:
    won = won_deal(world.app)
    world.runner.catch_up()
    return won


def figures(world: Services, member: str) -> dict:
    """The member's totals in CNY as they read them, each equal to their one deal's figures."""
    world.runner.catch_up()
    money = world.queries.members.money(Actor(member, "member"), member)
    assert isinstance(money, MemberMoneyOut)
    total = money.totals["CNY"]
    [row] = money.deals
    shown = (total.payable, total.held, total.paid, total.adjustments, total.awaiting_approval)
    assert (row.payable, row.held, row.paid, row.adjustments, row.awaiting_approval) == shown  # one deal
    return dict(zip(("payable", "held", "paid", "adjustments", "awaiting"), shown, strict=True))


def pay(world: Services, deal: WonDeal, amount: str, on: str = "2026-03-16", pid: str = "erp-1") -> int:
    return world.app.receive_payment(FINANCE, deal.oid, amount=amount, currency="CNY", received_on=on,
                                     payment_id=pid).position


def test_a_proposed_line_awaits_approval_and_nothing_of_it_is_payable_or_held(
        world: Services, deal: WonDeal) -> None:
    assert figures(world, "bob") == {"payable": ZERO, "held": ZERO, "paid": ZERO, "adjustments": ZERO,
                                     "awaiting": "10000.00"}
    assert world.queries.members.money(BOB, "bob").deals[0].allocation_status == "proposed"


def test_approval_makes_the_upfront_part_payable_and_holds_the_rest_until_payments_release_it(
        world: Services, deal: WonDeal) -> None:
    world.app.approve_allocation(FINANCE, deal.aid)
    assert figures(world, "bob") == {"payable": "6000.00", "held": "4000.00", "paid": ZERO,
                                     "adjustments": ZERO, "awaiting": ZERO}

    pay(world, deal, "250000.00")  # a quarter of the deal releases a quarter of each held part

    assert figures(world, "bob") == {"payable": "7000.00", "held": "3000.00", "paid": ZERO,
                                     "adjustments": ZERO, "awaiting": ZERO}
    assert figures(world, "alice") == {"payable": "9333.33", "held": "4000.00", "paid": ZERO,
                                       "adjustments": ZERO, "awaiting": ZERO}

    pay(world, deal, "750000.00", pid="erp-2")  # paid in full: nothing is held any more

    assert figures(world, "carol") == {"payable": "6666.67", "held": ZERO, "paid": ZERO,
                                       "adjustments": ZERO, "awaiting": ZERO}


def test_a_closed_months_entries_are_paid_and_a_later_refund_is_an_adjustment_payable_now(
        world: Services, deal: WonDeal, clock: Clock) -> None:
    world.app.approve_allocation(FINANCE, deal.aid)
    pay(world, deal, "250000.00")
    clock.now = datetime(2026, 4, 2, 9, 0, tzinfo=UTC)
    close(world.app, world.views, FINANCE, "2026-03", catch_up=lambda _: world.runner.catch_up())

    assert figures(world, "bob") == {"payable": ZERO, "held": "3000.00", "paid": "7000.00",
                                     "adjustments": ZERO, "awaiting": ZERO}
    assert world.queries.members.money(BOB, "bob").closed_months == ["2026-03"]

    # 50,000.00 back: the deal is 950,000.00, bob's line 9,500.00 (5,700.00 + 3,800.00 held), and
    # the 200,000.00 of cash left releases 4/19 of 3,800.00: 800.00; booked in April, still open
    world.app.refund(FINANCE, deal.oid, amount="50000.00", reason="one site descoped", refund_id="rf-1")

    assert figures(world, "bob") == {"payable": "-500.00", "held": "3000.00", "paid": "7000.00",
                                     "adjustments": "-500.00", "awaiting": ZERO}
    statement = world.queries.periods.statement(FINANCE, "2026-04", "bob")
    assert statement.currency_totals == {"CNY": "-500.00"}  # the desk adds up what the statements do


def test_a_cancelled_deal_holds_nothing_and_claws_back_what_was_payable(world: Services, deal: WonDeal) -> None:
    world.app.approve_allocation(FINANCE, deal.aid)
    pay(world, deal, "250000.00")
    world.app.cancel_won_deal(FINANCE, deal.oid, "the customer withdrew")

    assert figures(world, "bob") == {"payable": ZERO, "held": ZERO, "paid": ZERO,
                                     "adjustments": "-7000.00", "awaiting": ZERO}
    assert world.queries.members.money(BOB, "bob").deals[0].cancelled is True


def test_a_members_money_is_theirs_and_the_boards_readers(world: Services, deal: WonDeal) -> None:
    world.runner.catch_up()
    for reader in (LEAD, FINANCE, AUDITOR, ADMIN):
        assert world.queries.members.money(reader, "bob").member_id == "bob"
    with pytest.raises(MemberNotFound):  # as for a member who does not exist
        world.queries.members.money(ALICE, "bob")
    with pytest.raises(MemberNotFound):
        world.queries.members.money(FINANCE, "nobody")
    assert world.queries.members.money(DAVE, "dave").totals == {}  # no line anywhere


def test_an_allocation_event_moves_the_boards_of_the_members_it_books_for(
        world: Services, deal: WonDeal) -> None:
    """So the desk's `member` topic signals when a payment moves someone's money."""
    world.app.approve_allocation(FINANCE, deal.aid)
    world.runner.catch_up()
    before = world.queries.members.board(DAVE, "dave").changed_at

    pay(world, deal, "250000.00")
    world.runner.catch_up()

    released = next(e.position for e in world.queries.allocations.get(FINANCE, deal.aid).history
                    if e.cause == "payment:erp-1")
    for member in ("alice", "bob", "carol"):
        assert world.queries.members.board(LEAD, member).changed_at == released
    assert world.queries.members.board(DAVE, "dave").changed_at == before  # not on the deal


# -- a deal's cash ---------------------------------------------------------------------------------

def test_a_deals_cash_lists_its_payments_refunds_and_cancellation_with_their_positions(
        world: Services, deal: WonDeal) -> None:
    world.app.approve_allocation(FINANCE, deal.aid)
    paid = pay(world, deal, "250000.00")
    refunded = world.app.refund(FINANCE, deal.oid, amount="50000.00", reason="one site descoped",
                                refund_id="rf-1").position
    world.runner.catch_up()

    cash = world.queries.allocations.cash(FINANCE, deal.oid)

    assert isinstance(cash, DealCashOut)
    assert (cash.stage, cash.allocation_status, cash.won_amount, cash.amount, cash.cash, cash.outstanding,
            cash.released) == ("won", "approved", "1000000.00", "950000.00", "200000.00", "750000.00", "4/19")
    [payment] = cash.payments
    assert (payment.payment_id, payment.amount, payment.received_on, payment.by) == (
        "erp-1", "250000.00", "2026-03-16", "fiona")
    [refund] = cash.refunds
    assert (refund.refund_id, refund.amount, refund.reason, refund.by) == (
        "rf-1", "50000.00", "one site descoped", "fiona")
    # a command answers the position of its last event; the deal's own event comes before it
    assert payment.position < paid and refund.position < refunded and payment.position < refund.position
    assert cash.cancellation is None and cash.members_with_a_line == ["alice", "bob", "carol"]

    world.app.cancel_won_deal(FINANCE, deal.oid, "the customer withdrew")
    world.runner.catch_up()
    cancelled = world.queries.allocations.cash(AUDITOR, deal.oid)
    assert cancelled.stage == "cancelled" and cancelled.members_with_a_line == []
    assert (cancelled.cancellation.reason, cancelled.cancellation.by) == ("the customer withdrew", "fiona")
    assert refund.position < cancelled.cancellation.position <= cancelled.position <= head(world.app)


def test_a_deal_paid_in_full_releases_everything(world: Services, deal: WonDeal) -> None:
    pay(world, deal, "1000000.00")  # before approval: recorded, nothing booked yet
    world.runner.catch_up()
    cash = world.queries.allocations.cash(ADMIN, deal.oid)
    assert (cash.released, cash.outstanding, cash.allocation_status) == ("1", ZERO, "proposed")


def test_a_deals_cash_is_for_readers_of_the_books_and_only_of_a_won_deal(world: Services, deal: WonDeal) -> None:
    for reader in (BOB, LEAD):  # refused before the deal is looked for
        with pytest.raises(NotAllowed):
            world.queries.allocations.cash(reader, deal.oid)
    with pytest.raises(OpportunityNotFound):
        world.queries.allocations.cash(FINANCE, "not-a-deal")
    still_open = open_deal(world.app)
    world.runner.catch_up()
    with pytest.raises(AllocationNotFound):
        world.queries.allocations.cash(FINANCE, still_open)


def test_a_deal_index_from_before_the_cash_was_kept_says_from_where_it_keeps_it(
        world: Services, deal: WonDeal) -> None:
    """A read model built before the deal index kept cash: the page must not pass what it never
    saw for nothing received; a rebuild replays the log into a complete one."""
    older = {k: v for k, v in world.views.get(DEALS, deal.oid).items()
             if k not in ("payments", "refunds", "cash", "cancellation")}
    assert world.views.commit({}, {(DEALS, deal.oid): older})
    assert world.queries.allocations.cash(FINANCE, deal.oid).kept_from is None

    pay(world, deal, "250000.00")
    world.runner.catch_up()

    cash = world.queries.allocations.cash(FINANCE, deal.oid)
    assert cash.kept_from == cash.payments[0].position and cash.cash == "250000.00"
    world.runner.rebuild()
    rebuilt = world.queries.allocations.cash(FINANCE, deal.oid)
    assert rebuilt.kept_from == 1 and rebuilt.payments == cash.payments

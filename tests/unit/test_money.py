"""The money (issue 4, items 1-5 and its bad input): finance approves an allocation; cash releases
held parts; late facts after approval are booked forward as adjustments pointing to the line they
correct (disputes, periods and the cap: test_money_disputes_and_periods.py). All through the
Application in memory, with a clock the tests move.

The deal: 1,000,000.00 CNY won on 2026-02-20, grade A, so a pool of 30,000.00 (3,000,000 fen),
split by HELD (the default shares, a 30 % holdback):

    alice (AR, visit 1)          1,333,333 = 933,333 upfront + 400,000 held
    bob   (SR, demo 3)           1,000,000 = 700,000 upfront + 300,000 held
    carol (FR, delivery_plan 4)    666,667 = 466,667 upfront + 200,000 held

Every test also checks the one rule: a member's entries add up to what is payable to them now.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.application import AggregateNotFoundError

from domain.aggregates import Allocation, Opportunity, Period
from domain.application import Actor, Goldsplit
from domain.exceptions import (
    AllocationAlreadyApproved,
    AllocationNotFound,
    Conflict,
    DomainError,
    InvalidAmount,
    InvalidInput,
    NotAllowed,
    OpportunityClosed,
)
from domain.money import format_amount
from domain.payables import Target
from tests.builders import WonDeal as Deal
from tests.builders import won_deal
from tests.ledger import (
    ADMIN,
    ALICE,
    AUDITOR,
    FINANCE,
    LEAD,
    Clock,
    events,
    head,
    refused,
)

WON_ON = "2026-02-20"
SETUP = datetime(2026, 2, 20, 9, 0, tzinfo=UTC)  # contributions on 2026-02-10, the win on WON_ON
NOW = SETUP  # where the clock fixture starts
MARCH = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)  # where each test starts
APRIL = datetime(2026, 4, 7, 9, 0, tzinfo=UTC)  # a later month, for late facts

MEMBERS = {"alice": "sales", "bob": "presales", "carol": "delivery", "dave": "commercial"}
NOT_FINANCE = pytest.mark.parametrize("actor", [LEAD, ADMIN, ALICE, AUDITOR],
                                      ids=["lead", "admin", "member", "auditor"])

LINES = {"alice": (933_333, 400_000), "bob": (700_000, 300_000), "carol": (466_667, 200_000)}


def incentive(*, holdback: str | None = "0.3", cap: str | None = None) -> dict:
    return {"name": "held", "effective_from": "2026-01-01",
            "pool_rate_by_grade": {"A": "0.03", "B": "0.02", "C": "0.01"},
            "role_shares": {"AR": "0.40", "SR": "0.30", "FR": "0.20", "SUPPORT": "0.10"},
            "kind_weights": {"visit": 1, "demo": 3, "delivery_plan": 4, "poc": 8},
            "member_cap": cap, "holdback": holdback}


HELD = incentive()
CAPPED = incentive(cap="0.3")  # everyone capped at 900,000: 300,000 stays unallocated


def won(app: Goldsplit, clock: Clock, *, policy: dict | None = HELD, amount: str = "1000000.00",
        currency: str = "CNY", approve: bool = False) -> Deal:
    """The deal above, won on WON_ON; the clock then stands at MARCH."""
    clock.now = SETUP
    if policy is not None:
        app.add_policy(FINANCE, "incentive", policy)
    deal = won_deal(app, amount=amount, currency=currency, expected_close="2026-03-31",
                    worked_at="2026-02-10T10:00:00+00:00", closed_on=WON_ON)
    clock.now = MARCH
    if approve:
        app.approve_allocation(FINANCE, deal.aid)
    return deal


def allocation(app: Goldsplit, aid: str) -> Allocation:
    return app.repository.get(UUID(aid))


def opportunity(app: Goldsplit, oid: str) -> Opportunity:
    return app.repository.get(UUID(oid))


def entries(app: Goldsplit, aid: str, cause: str | None = None) -> list[dict]:
    """Every payable entry of an allocation, in the order booked (optionally of one cause)."""
    found = [e for event in events(app, aid) for e in getattr(event, "entries", [])]
    return [e for e in found if cause is None or e["cause"] == cause]


def totals(booked: list[dict], key: str = "member_id") -> dict[str, int]:
    summed: dict[str, int] = {}
    for entry in booked:
        summed[entry[key]] = summed.get(entry[key], 0) + entry["amount"]
    return summed


def amounts(booked: list[dict]) -> dict[tuple[str, str], int]:
    """(member, what it pays) -> amount, for entries of one cause (one entry each)."""
    pairs = [(e["member_id"], e["pays"]) for e in booked]
    assert len(pairs) == len(set(pairs))
    return {(e["member_id"], e["pays"]): e["amount"] for e in booked}


def payable_now(app: Goldsplit, deal: Deal) -> dict[str, int]:
    """What the rule says is payable to each member now: upfront plus held released by cash."""
    line, won_deal = allocation(app, deal.aid), opportunity(app, deal.oid)
    return {m: sum(Target(t["upfront"], t["held"]).payable(won_deal.cash, won_deal.amount))
            for m, t in line.targets.items()}


def assert_follows_the_rule(app: Goldsplit, deal: Deal) -> None:
    """Entries sum to what is payable now; a member without a line is owed (and has) nothing."""
    line = allocation(app, deal.aid)
    booked = totals(entries(app, deal.aid))
    now = payable_now(app, deal)
    assert {m: booked.get(m, 0) for m in now} == now
    assert {m: v for m, v in booked.items() if m not in now and v} == {}
    assert {m: p["upfront"] + p["release"] for m, p in line.paid.items()} == {
        m: booked.get(m, 0) for m in line.paid}


def pay(app: Goldsplit, deal: Deal, amount: str, on: str, pid: str | None = None,
        actor: Actor = FINANCE) -> str:
    return app.receive_payment(actor, deal.oid, amount=amount, currency="CNY", received_on=on,
                               payment_id=pid).id


def period(app: Goldsplit, month: str) -> Period | None:
    try:
        return app.repository.get(Period.create_id(month))
    except AggregateNotFoundError:  # nothing booked into that month, and it was never closed
        return None


def versions(app: Goldsplit, *months: str) -> dict[str, int]:
    """What a replay sees of each month: its Period's version (0 when nobody booked into it)."""
    return {m: (found.version if (found := period(app, m)) else 0) for m in months}


def close(app: Goldsplit, month: str, seen: dict[str, int] | None = None) -> Any:
    return app.close_period(FINANCE, month, cutoff=head(app), report={"entries": 0},
                            versions=seen if seen is not None else versions(app, month))


# -- approval ------------------------------------------------------------------------------------

@NOT_FINANCE
def test_only_finance_approves_an_allocation(app: Goldsplit, clock: Clock, actor: Actor) -> None:
    deal = won(app, clock)
    refused(app, NotAllowed, app.approve_allocation, actor, deal.aid)
    assert not allocation(app, deal.aid).approved
    app.approve_allocation(FINANCE, deal.aid)
    assert allocation(app, deal.aid).approved


def test_approving_twice_is_a_conflict_and_records_nothing(app: Goldsplit, clock: Clock) -> None:
    deal = won(app, clock, approve=True)
    before = entries(app, deal.aid)
    error = refused(app, AllocationAlreadyApproved, app.approve_allocation, FINANCE, deal.aid)
    assert isinstance(error, Conflict)  # 409
    assert entries(app, deal.aid) == before
    assert [type(e) for e in events(app, deal.aid)] == [Allocation.Proposed, Allocation.Approved]


@pytest.mark.parametrize("aid", ["not-a-uuid", str(uuid4())])
def test_approving_an_unknown_allocation_is_not_found(app: Goldsplit, aid: str) -> None:
    refused(app, AllocationNotFound, app.approve_allocation, FINANCE, aid, field="allocation_id")


def test_an_opportunity_id_is_not_an_allocation(app: Goldsplit, clock: Clock) -> None:
    deal = won(app, clock)
    refused(app, AllocationNotFound, app.approve_allocation, FINANCE, deal.oid, field="allocation_id")


def test_approval_makes_the_upfront_parts_payable_in_the_month_of_the_win_date(
        app: Goldsplit, clock: Clock) -> None:
    deal = won(app, clock)
    recorded = app.approve_allocation(FINANCE, deal.aid)
    assert (recorded.id, recorded.position) == (deal.aid, head(app))
    approved = events(app, deal.aid)[-1]
    assert (type(approved), approved.actor, approved.at) == (Allocation.Approved, "fiona",
                                                             MARCH.isoformat())
    assert [(e["member_id"], e["kind"], e["pays"], e["amount"], e["currency"], e["on"], e["period"],
             e["cause"], e["corrects"]) for e in approved.entries] == [
        (m, "upfront", "upfront", upfront, "CNY", WON_ON, "2026-02", "approval", None)
        for m, (upfront, _) in LINES.items()]
    assert {(e["allocation_id"], e["opportunity_id"]) for e in approved.entries} == {(deal.aid, deal.oid)}
    assert len({e["entry_id"] for e in approved.entries}) == 3
    february = period(app, "2026-02")
    assert (february.booked, february.closed) == (3, False)
    assert [(type(e), getattr(e, "cause", None)) for e in events(app, february.id)] == [
        (Period.Started, None), (Period.Booked, "approval")]
    assert period(app, "2026-03") is None
    assert_follows_the_rule(app, deal)


def test_payments_before_approval_release_nothing_until_the_approval_releases_the_cash_so_far(
        app: Goldsplit, clock: Clock) -> None:
    deal = won(app, clock)
    pay(app, deal, "200000.00", "2026-02-25", "p1")
    pay(app, deal, "133333.33", "2026-03-05", "p2")
    assert opportunity(app, deal.oid).cash == 33_333_333
    assert [type(e) for e in events(app, deal.aid)] == [Allocation.Proposed]
    assert (period(app, "2026-02"), period(app, "2026-03")) == (None, None)

    app.approve_allocation(FINANCE, deal.aid)
    releases = [e for e in entries(app, deal.aid) if e["kind"] == "release"]
    # each payment releases its share in its own month: held × 20 % after the first, then up to
    # held × 33,333,333 / 100,000,000 (floored) after the second
    assert [(e["member_id"], e["pays"], e["amount"], e["on"], e["period"], e["cause"])
            for e in releases] == [
        ("alice", "release", 80_000, "2026-02-25", "2026-02", "approval:payment:p1"),
        ("bob", "release", 60_000, "2026-02-25", "2026-02", "approval:payment:p1"),
        ("carol", "release", 40_000, "2026-02-25", "2026-02", "approval:payment:p1"),
        ("alice", "release", 53_333, "2026-03-05", "2026-03", "approval:payment:p2"),
        ("bob", "release", 39_999, "2026-03-05", "2026-03", "approval:payment:p2"),
        ("carol", "release", 26_666, "2026-03-05", "2026-03", "approval:payment:p2")]
    assert (period(app, "2026-02").booked, period(app, "2026-03").booked) == (6, 3)
    assert_follows_the_rule(app, deal)


def test_an_approval_after_the_win_month_was_closed_books_into_the_current_month(
        app: Goldsplit, clock: Clock) -> None:
    deal = won(app, clock)
    close(app, "2026-02")
    february = period(app, "2026-02").version
    app.approve_allocation(FINANCE, deal.aid)
    upfront = entries(app, deal.aid, "approval")
    assert {(e["on"], e["period"]) for e in upfront} == {(WON_ON, "2026-03")}
    assert totals(upfront) == {m: u for m, (u, _) in LINES.items()}
    assert period(app, "2026-02").version == february
    assert period(app, "2026-03").booked == 3
    assert_follows_the_rule(app, deal)


def test_the_approval_books_the_proposal_as_late_facts_left_it(app: Goldsplit, clock: Clock) -> None:
    """Before approval a late fact changes the proposal and books nothing."""
    deal = won(app, clock)
    proposed = allocation(app, deal.aid).result
    app.reverse_contribution(LEAD, deal.oid, deal.contributions["carol"], "the plan was never used")
    adjusted = events(app, deal.aid)[-1]
    assert (type(adjusted), adjusted.entries, adjusted.cause) == (
        Allocation.Adjusted, [], f"reversal:{deal.contributions['carol']}")
    assert (period(app, "2026-02"), period(app, "2026-03")) == (None, None)
    line = allocation(app, deal.aid)
    assert line.result != proposed
    assert [x["member_id"] for x in line.result["lines"]] == ["alice", "bob"]
    assert line.targets == {"alice": {"upfront": 1_200_000, "held": 514_286},
                            "bob": {"upfront": 900_000, "held": 385_714}}
    assert line.paid == {}

    app.approve_allocation(FINANCE, deal.aid)
    assert totals(entries(app, deal.aid)) == {"alice": 1_200_000, "bob": 900_000}
    assert_follows_the_rule(app, deal)


@pytest.mark.parametrize("fact", ["reversal", "correction", "refund", "cancellation"])
def test_before_approval_a_late_fact_changes_the_proposal_and_books_nothing(
        app: Goldsplit, clock: Clock, fact: str) -> None:
    deal = won(app, clock)
    pay(app, deal, "500000.00", "2026-03-02")
    if fact == "reversal":
        app.reverse_contribution(LEAD, deal.oid, deal.contributions["bob"], "a recorded demo")
    elif fact == "correction":
        app.correct_opportunity(LEAD, deal.oid, amount="1200000.00", reason="the signed contract")
    elif fact == "refund":
        app.refund(FINANCE, deal.oid, amount="100000.00", reason="one module returned")
    else:
        app.cancel_won_deal(FINANCE, deal.oid, "the customer withdrew")
    adjusted = events(app, deal.aid)[-1]
    assert (type(adjusted), adjusted.entries) == (Allocation.Adjusted, [])
    assert (period(app, "2026-02"), period(app, "2026-03")) == (None, None)
    line = allocation(app, deal.aid)
    expected = {} if fact == "cancellation" else {
        x["member_id"]: {"upfront": x["upfront"], "held": x["held"]} for x in line.result["lines"]}
    assert line.targets == expected
    assert sum(t["upfront"] + t["held"] for t in line.targets.values()) == {
        "reversal": 3_000_000, "correction": 3_600_000, "refund": 2_700_000, "cancellation": 0}[fact]
    if fact == "cancellation":  # nothing of a cancelled deal is payable: there is nothing to approve
        refused(app, OpportunityClosed, app.approve_allocation, FINANCE, deal.aid)
        return
    app.approve_allocation(FINANCE, deal.aid)
    assert {e["kind"] for e in entries(app, deal.aid)} <= {"upfront", "release"}
    assert_follows_the_rule(app, deal)


# -- payments ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("changes", "error", "field"), [
    ({"amount": "1000000.01"}, InvalidInput, "amount"),  # over the outstanding amount
    ({"currency": "USD"}, InvalidInput, "currency"),
    ({"currency": "cny"}, InvalidInput, "currency"),
    ({"received_on": "2026-03-11"}, InvalidInput, "received_on"),  # tomorrow
    ({"received_on": "2026-02-19"}, InvalidInput, "received_on"),  # before the win
    ({"received_on": "10/03/2026"}, InvalidInput, "received_on"),
    ({"amount": "-5.00"}, InvalidAmount, "amount"),
    ({"amount": "0.00"}, InvalidAmount, "amount"),
    ({"amount": "1.001"}, InvalidAmount, "amount"),
    ({"amount": 1.5}, InvalidAmount, "amount"),
    ({"payment_id": "a/b"}, InvalidInput, "payment_id"),
], ids=["over-outstanding", "other-currency", "lowercase-currency", "future", "before-win",
        "not-iso", "negative", "zero", "too-many-decimals", "float", "bad-id"])
def test_refuses_a_bad_payment_naming_the_field_and_records_nothing(
        app: Goldsplit, clock: Clock, changes: dict, error: type[DomainError], field: str) -> None:
    deal = won(app, clock, approve=True)
    fields = {"amount": "1000.00", "currency": "CNY", "received_on": "2026-03-02", **changes}
    refused(app, error, app.receive_payment, FINANCE, deal.oid, **fields, field=field)
    assert (opportunity(app, deal.oid).cash, opportunity(app, deal.oid).payments) == (0, {})
    assert entries(app, deal.aid, "approval") == entries(app, deal.aid)


def test_the_outstanding_amount_shrinks_with_each_payment(app: Goldsplit, clock: Clock) -> None:
    deal = won(app, clock, approve=True)
    pay(app, deal, "600000.00", "2026-03-02")
    error = refused(app, InvalidInput, pay, app, deal, "400000.01", "2026-03-03", field="amount")
    assert "40000000" in error.detail
    pay(app, deal, "400000.00", "2026-03-03")
    refused(app, InvalidInput, pay, app, deal, "0.01", "2026-03-04", field="amount")
    assert opportunity(app, deal.oid).cash == 100_000_000


@pytest.mark.parametrize("outcome", ["open", "lost", "cancelled"])
def test_refuses_a_payment_on_a_deal_that_is_not_won(app: Goldsplit, clock: Clock, outcome: str) -> None:
    if outcome == "cancelled":
        oid = won(app, clock).oid
        app.cancel_won_deal(FINANCE, oid, "the customer withdrew")
    else:
        clock.now = MARCH
        oid = app.open_opportunity(LEAD, account_id="acme", name="Acme", amount="1000.00",
                                   currency="CNY", expected_close="2026-03-31", grade="B",
                                   reason="the rate this test pins").id
        if outcome == "lost":
            app.lose(LEAD, oid, reason="budget frozen", closed_on="2026-03-01")
    error = refused(app, OpportunityClosed, app.receive_payment, FINANCE, oid, amount="10.00",
                    currency="CNY", received_on="2026-03-09")
    assert outcome in error.detail
    assert opportunity(app, oid).cash == 0


@pytest.mark.parametrize("actor", [LEAD, ALICE, AUDITOR], ids=["lead", "member", "auditor"])
def test_only_finance_or_an_admin_records_payments(app: Goldsplit, clock: Clock, actor: Actor) -> None:
    deal = won(app, clock, approve=True)
    refused(app, NotAllowed, pay, app, deal, "10.00", "2026-03-02", actor=actor)
    pay(app, deal, "10.00", "2026-03-02", actor=ADMIN)
    assert opportunity(app, deal.oid).cash == 1_000


def test_payments_release_held_parts_in_proportion_to_cash_and_the_last_releases_the_rest(
        app: Goldsplit, clock: Clock) -> None:
    deal = won(app, clock, approve=True)
    pay(app, deal, "333333.33", "2026-03-02", "p1")
    first = entries(app, deal.aid, "payment:p1")
    assert {(e["kind"], e["pays"], e["on"], e["period"], e["corrects"]) for e in first} == {
        ("release", "release", "2026-03-02", "2026-03", None)}
    # floor(held × 33,333,333 / 100,000,000)
    assert totals(first) == {"alice": 133_333, "bob": 99_999, "carol": 66_666}
    assert_follows_the_rule(app, deal)

    clock.now = APRIL
    pay(app, deal, "333333.33", "2026-04-01", "p2")
    # floor(held × 66,666,666 / 100,000,000) minus what p1 released
    assert totals(entries(app, deal.aid, "payment:p2")) == {"alice": 133_333, "bob": 100_000,
                                                            "carol": 66_667}
    assert_follows_the_rule(app, deal)

    pay(app, deal, "333333.34", "2026-04-06", "p3")
    assert totals(entries(app, deal.aid, "payment:p3")) == {"alice": 133_334, "bob": 100_001,
                                                            "carol": 66_667}
    releases = [e for e in entries(app, deal.aid) if e["pays"] == "release"]
    assert totals(releases) == {m: held for m, (_, held) in LINES.items()}
    assert totals(entries(app, deal.aid)) == {m: u + h for m, (u, h) in LINES.items()}
    assert totals(entries(app, deal.aid), "period") == {"2026-02": 2_100_000, "2026-03": 299_998,
                                                        "2026-04": 600_002}
    assert_follows_the_rule(app, deal)


def test_a_payment_id_sent_twice_is_recorded_once(app: Goldsplit, clock: Clock) -> None:
    deal = won(app, clock, approve=True)
    first = app.receive_payment(FINANCE, deal.oid, amount="500000.00", currency="CNY",
                                received_on="2026-03-02", payment_id="bank-77")
    before = (len(events(app, deal.oid)), len(events(app, deal.aid)), head(app))
    again = app.receive_payment(FINANCE, deal.oid, amount="500000.00", currency="CNY",
                                received_on="2026-03-02", payment_id="bank-77")
    assert (again.id, again.position) == ("bank-77", first.position)
    assert (len(events(app, deal.oid)), len(events(app, deal.aid)), head(app)) == before
    assert opportunity(app, deal.oid).cash == 50_000_000
    assert len(entries(app, deal.aid, "payment:bank-77")) == 3
    assert_follows_the_rule(app, deal)


def test_a_payment_dated_in_a_closed_month_releases_in_the_current_month(
        app: Goldsplit, clock: Clock) -> None:
    deal = won(app, clock, approve=True)
    close(app, "2026-02")
    february = events(app, Period.create_id("2026-02"))
    pay(app, deal, "500000.00", "2026-02-27", "late-wire")
    released = entries(app, deal.aid, "payment:late-wire")
    assert {(e["on"], e["period"]) for e in released} == {("2026-02-27", "2026-03")}
    assert events(app, Period.create_id("2026-02")) == february
    assert_follows_the_rule(app, deal)


def test_without_a_holdback_approval_pays_everything_and_payments_release_nothing(
        app: Goldsplit, clock: Clock) -> None:
    deal = won(app, clock, policy=incentive(holdback=None), approve=True)
    assert totals(entries(app, deal.aid)) == {"alice": 1_333_333, "bob": 1_000_000, "carol": 666_667}
    pay(app, deal, "1000000.00", "2026-03-02")
    assert [type(e) for e in events(app, deal.aid)] == [Allocation.Proposed, Allocation.Approved]
    assert_follows_the_rule(app, deal)


# -- late facts after approval -------------------------------------------------------------------

def approved_and_a_third_paid(app: Goldsplit, clock: Clock) -> Deal:
    """Approved in March with a third of the cash in; the clock then moves to April."""
    deal = won(app, clock, approve=True)
    pay(app, deal, "333333.33", "2026-03-02", "p1")
    clock.now = APRIL
    return deal


def assert_adjusts_forward(booked: list[dict], deal: Deal, cause: str) -> None:
    """Adjustments, booked today in the current month, each pointing to the line it corrects."""
    assert booked
    for entry in booked:
        assert (entry["kind"], entry["cause"], entry["on"], entry["period"]) == (
            "adjustment", cause, APRIL.date().isoformat(), "2026-04")
        assert entry["corrects"] == {"allocation_id": deal.aid, "member_id": entry["member_id"]}
        assert entry["reason"]
        assert entry["amount"] != 0


def test_a_reversed_contribution_claws_back_its_line_and_raises_the_others(
        app: Goldsplit, clock: Clock) -> None:
    deal = approved_and_a_third_paid(app, clock)
    cid = deal.contributions["carol"]
    app.reverse_contribution(LEAD, deal.oid, cid, "the plan was never used")
    booked = entries(app, deal.aid, f"reversal:{cid}")
    assert_adjusts_forward(booked, deal, f"reversal:{cid}")
    assert "the plan was never used" in booked[0]["reason"]
    # carol gets back nothing: her upfront and what p1 released are clawed back
    assert amounts(booked) == {
        ("alice", "upfront"): 1_200_000 - 933_333, ("alice", "release"): 171_428 - 133_333,
        ("bob", "upfront"): 900_000 - 700_000, ("bob", "release"): 128_571 - 99_999,
        ("carol", "upfront"): -466_667, ("carol", "release"): -66_666}
    assert totals(entries(app, deal.aid))["carol"] == 0
    assert "carol" not in allocation(app, deal.aid).targets
    assert period(app, "2026-04").booked == 6
    assert_follows_the_rule(app, deal)


def test_an_amount_correction_after_the_win_adjusts_lines_and_releases(app: Goldsplit, clock: Clock) -> None:
    deal = approved_and_a_third_paid(app, clock)
    app.correct_opportunity(LEAD, deal.oid, amount="1200000.00", reason="the signed contract")
    cause = f"correction:{opportunity(app, deal.oid).version}"
    booked = entries(app, deal.aid, cause)
    assert_adjusts_forward(booked, deal, cause)
    targets = allocation(app, deal.aid).targets
    assert targets == {"alice": {"upfront": 1_120_000, "held": 480_000},
                       "bob": {"upfront": 840_000, "held": 360_000},
                       "carol": {"upfront": 560_000, "held": 240_000}}
    # the held parts grow with the deal as the share of it collected shrinks: the same cash
    # releases the same (floored) amounts, so only the upfront parts are adjusted
    assert amounts(booked) == {("alice", "upfront"): 186_667, ("bob", "upfront"): 140_000,
                               ("carol", "upfront"): 93_333}
    assert_follows_the_rule(app, deal)


def test_an_amount_correction_below_the_cash_collected_is_refused(app: Goldsplit, clock: Clock) -> None:
    deal = approved_and_a_third_paid(app, clock)
    refused(app, InvalidInput, app.correct_opportunity, LEAD, deal.oid, amount="333333.32",
            field="amount")
    refused(app, OpportunityClosed, app.correct_opportunity, LEAD, deal.oid,
            expected_close="2026-05-01")


def test_a_refund_shrinks_the_pool_and_claws_back_in_the_current_month(app: Goldsplit, clock: Clock) -> None:
    deal = won(app, clock, approve=True)
    pay(app, deal, "1000000.00", "2026-03-02", "all")
    clock.now = APRIL
    app.refund(FINANCE, deal.oid, amount="100000.00", reason="one module returned", refund_id="r1")
    booked = entries(app, deal.aid, "refund:r1")
    assert_adjusts_forward(booked, deal, "refund:r1")
    assert all(e["amount"] < 0 for e in booked)
    assert (opportunity(app, deal.oid).amount, opportunity(app, deal.oid).cash) == (90_000_000,
                                                                                  90_000_000)
    # still paid in full: everything paid adds up to the new lines of a 2,700,000 pool
    assert totals(entries(app, deal.aid)) == {"alice": 1_200_000, "bob": 900_000, "carol": 600_000}
    assert_follows_the_rule(app, deal)


def test_a_refund_id_sent_twice_is_recorded_once(app: Goldsplit, clock: Clock) -> None:
    deal = won(app, clock, approve=True)
    pay(app, deal, "1000000.00", "2026-03-02", "all")
    clock.now = APRIL
    app.refund(FINANCE, deal.oid, amount="100000.00", reason="one module returned", refund_id="r1")
    before = (len(events(app, deal.oid)), len(events(app, deal.aid)))
    app.refund(FINANCE, deal.oid, amount="100000.00", reason="one module returned", refund_id="r1")
    assert (len(events(app, deal.oid)), len(events(app, deal.aid))) == before
    assert opportunity(app, deal.oid).amount == 90_000_000
    assert_follows_the_rule(app, deal)


@pytest.mark.parametrize(("amount", "error"), [
    ("1000000.00", InvalidInput), ("333333.34", InvalidInput), ("-1.00", InvalidAmount),
    ("0.001", InvalidAmount)], ids=["whole-deal", "over-the-cash", "negative", "too-many-decimals"])
def test_refuses_a_refund_of_the_whole_deal_or_over_the_cash(
        app: Goldsplit, clock: Clock, amount: str, error: type[DomainError]) -> None:
    deal = approved_and_a_third_paid(app, clock)
    refused(app, error, app.refund, FINANCE, deal.oid, amount=amount, reason="returned", field="amount")
    assert opportunity(app, deal.oid).amount == 100_000_000


@NOT_FINANCE
def test_only_finance_cancels_or_refunds(app: Goldsplit, clock: Clock, actor: Actor) -> None:
    deal = approved_and_a_third_paid(app, clock)
    refused(app, NotAllowed, app.cancel_won_deal, actor, deal.oid, "withdrawn")
    refused(app, NotAllowed, app.refund, actor, deal.oid, amount="10.00", reason="returned")


def test_a_cancellation_claws_back_everything_paid(app: Goldsplit, clock: Clock) -> None:
    deal = approved_and_a_third_paid(app, clock)
    paid = totals(entries(app, deal.aid))
    app.cancel_won_deal(FINANCE, deal.oid, "the customer withdrew")
    booked = entries(app, deal.aid, "cancellation")
    assert_adjusts_forward(booked, deal, "cancellation")
    assert amounts(booked) == {(m, pays): -a for m, (u, r) in {
        "alice": (933_333, 133_333), "bob": (700_000, 99_999), "carol": (466_667, 66_666)}.items()
        for pays, a in (("upfront", u), ("release", r))}
    assert totals(booked) == {m: -v for m, v in paid.items()}
    assert totals(entries(app, deal.aid)) == {"alice": 0, "bob": 0, "carol": 0}
    assert allocation(app, deal.aid).targets == {}
    assert opportunity(app, deal.oid).stage == "cancelled"
    refused(app, OpportunityClosed, app.cancel_won_deal, FINANCE, deal.oid, "again")
    refused(app, OpportunityClosed, app.refund, FINANCE, deal.oid, amount="1.00", reason="late")
    assert_follows_the_rule(app, deal)


def test_entries_keep_following_the_rule_through_a_run_of_late_facts(app: Goldsplit, clock: Clock) -> None:
    deal = approved_and_a_third_paid(app, clock)
    app.reverse_contribution(LEAD, deal.oid, deal.contributions["bob"], "demo was a recording")
    assert_follows_the_rule(app, deal)
    pay(app, deal, "100000.00", "2026-04-02", "p2")
    assert_follows_the_rule(app, deal)
    app.refund(FINANCE, deal.oid, amount="50000.00", reason="training dropped", refund_id="r1")
    assert_follows_the_rule(app, deal)
    app.correct_opportunity(LEAD, deal.oid, amount="900000.00", reason="the signed contract")
    assert_follows_the_rule(app, deal)
    outstanding = opportunity(app, deal.oid).amount - opportunity(app, deal.oid).cash
    pay(app, deal, format_amount(outstanding, "CNY"), "2026-04-06", "rest")
    line = allocation(app, deal.aid)
    assert totals(entries(app, deal.aid)) == {
        "alice": sum(line.targets["alice"].values()), "bob": 0, "carol": sum(line.targets["carol"].values())}
    assert_follows_the_rule(app, deal)


def test_a_late_fact_on_a_fully_booked_month_never_touches_that_month(app: Goldsplit, clock: Clock) -> None:
    deal = approved_and_a_third_paid(app, clock)
    close(app, "2026-03")
    march = [e for e in entries(app, deal.aid) if e["period"] == "2026-03"]
    app.reverse_contribution(LEAD, deal.oid, deal.contributions["alice"], "duplicate visit")
    app.cancel_won_deal(FINANCE, deal.oid, "withdrawn")
    assert [e for e in entries(app, deal.aid) if e["period"] == "2026-03"] == march
    assert period(app, "2026-03").closed
    assert_follows_the_rule(app, deal)

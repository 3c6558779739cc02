"""The money, continued from test_money.py (its deal, HELD split and helpers): members dispute
their own line and finance resolves it; months close and lock; the cap, the holdback's rounding
and every currency to its minor unit."""


from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from uuid import UUID, uuid4, uuid5

import pytest

from domain.aggregates import Dispute, Period
from domain.allocation import round_half_even
from domain.application import Actor, Goldsplit
from domain.exceptions import (
    AllocationNotFound,
    ConcurrencyConflict,
    Conflict,
    DisputeNotFound,
    DomainError,
    InvalidAmount,
    InvalidInput,
    NotAllowed,
    PeriodClosed,
    PeriodNotOver,
    TransitionRefused,
)
from tests.ledger import (
    ALICE,
    CAROL,
    DAVE,
    FINANCE,
    LEAD,
    Clock,
    events,
    head,
    refused,
)
from tests.unit import test_money as money
from tests.unit.test_money import (
    APRIL,
    CAPPED,
    MARCH,
    NOT_FINANCE,
    Deal,
    allocation,
    amounts,
    approved_and_a_third_paid,
    assert_adjusts_forward,
    assert_follows_the_rule,
    close,
    entries,
    incentive,
    opportunity,
    pay,
    period,
    totals,
    versions,
    won,
)

MEMBERS, NOW = money.MEMBERS, money.NOW  # the deal's team and clock (the app and clock fixtures')


# -- disputes ------------------------------------------------------------------------------------

def dispute(app: Goldsplit, deal: Deal, member: Actor = CAROL, reason: str = "the plan won the deal",
            dispute_id: UUID | None = None) -> str:
    return app.raise_dispute(member, deal.aid, member_id=member.member_id, reason=reason,
                             dispute_id=dispute_id).id


def test_a_member_disputes_their_own_line_with_a_reason(app: Goldsplit, clock: Clock) -> None:
    deal = won(app, clock, approve=True)
    recorded = app.raise_dispute(CAROL, deal.aid, member_id="carol", reason="the plan won the deal")
    assert (recorded.status, recorded.position) == ("open", head(app))
    [raised] = events(app, recorded.id)
    assert (type(raised), raised.allocation_id, raised.member_id, raised.reason, raised.actor) == (
        Dispute.Raised, UUID(deal.aid), "carol", "the plan won the deal", "carol")


def test_a_dispute_id_sent_twice_is_raised_once(app: Goldsplit, clock: Clock) -> None:
    deal = won(app, clock)
    did = uuid5(UUID(int=0), "dispute-1")
    assert dispute(app, deal, dispute_id=did) == dispute(app, deal, dispute_id=did) == str(did)
    assert len(events(app, did)) == 1


def test_refuses_disputing_someone_elses_line_or_on_an_allocation_one_may_not_see(
        app: Goldsplit, clock: Clock) -> None:
    deal = won(app, clock, approve=True)
    refused(app, NotAllowed, app.raise_dispute, ALICE, deal.aid, member_id="carol", reason="unfair",
            field="member_id")
    refused(app, NotAllowed, app.raise_dispute, LEAD, deal.aid, member_id="carol", reason="unfair",
            field="member_id")
    # dave is on no deal: the allocation does not exist for him, as for an id that names nothing
    hidden = refused(app, AllocationNotFound, app.raise_dispute, DAVE, deal.aid, member_id="dave",
                     reason="I helped too", field="allocation_id")
    assert hidden.detail == f"no allocation {deal.aid}"
    refused(app, InvalidInput, app.raise_dispute, CAROL, deal.aid, member_id="carol", reason=" ",
            field="reason")
    refused(app, AllocationNotFound, app.raise_dispute, CAROL, str(uuid4()), member_id="carol",
            reason="unfair", field="allocation_id")


def test_finance_rejects_a_dispute_with_a_reason_and_nothing_is_paid(app: Goldsplit, clock: Clock) -> None:
    deal = won(app, clock, approve=True)
    did = dispute(app, deal)
    before = events(app, deal.aid)
    refused(app, InvalidInput, app.resolve_dispute, FINANCE, did, decision="reject", reason="",
            field="reason")
    app.resolve_dispute(FINANCE, did, decision="reject", reason="weights are the policy's")
    rejected = events(app, did)[-1]
    assert (type(rejected), rejected.reason, rejected.actor) == (
        Dispute.Rejected, "weights are the policy's", "fiona")
    assert events(app, deal.aid) == before


def test_an_upheld_dispute_becomes_an_adjustment_of_the_line(app: Goldsplit, clock: Clock) -> None:
    deal = won(app, clock, policy=CAPPED, approve=True)
    assert allocation(app, deal.aid).result["unallocated"] == 300_000
    assert totals(entries(app, deal.aid)) == {"alice": 630_000, "bob": 630_000, "carol": 630_000}
    did = dispute(app, deal)
    clock.now = APRIL
    app.resolve_dispute(FINANCE, did, decision="uphold", reason="the plan won the deal",
                        corrected_amount="10000.00")
    assert type(events(app, did)[-1]) is Dispute.Upheld
    assert events(app, did)[-1].corrected_amount == 1_000_000
    booked = entries(app, deal.aid, f"dispute:{did}")
    assert_adjusts_forward(booked, deal, f"dispute:{did}")
    assert amounts(booked) == {("carol", "upfront"): 700_000 - 630_000}
    line = allocation(app, deal.aid)
    assert (line.overrides, line.targets["carol"]) == ({"carol": 1_000_000},
                                                       {"upfront": 700_000, "held": 300_000})
    pay(app, deal, "1000000.00", "2026-04-01")
    assert totals(entries(app, deal.aid)) == {"alice": 900_000, "bob": 900_000, "carol": 1_000_000}
    assert_follows_the_rule(app, deal)


def test_a_dispute_upheld_before_approval_changes_what_the_approval_books(
        app: Goldsplit, clock: Clock) -> None:
    deal = won(app, clock, policy=CAPPED)
    app.resolve_dispute(FINANCE, dispute(app, deal), decision="uphold", reason="agreed",
                        corrected_amount="9500.00")
    assert entries(app, deal.aid) == []
    app.approve_allocation(FINANCE, deal.aid)
    assert totals(entries(app, deal.aid))["carol"] == 665_000  # 950,000 less its 30 % held
    assert_follows_the_rule(app, deal)


@pytest.mark.parametrize(("corrected", "error"), [
    ("12000.01", InvalidInput), ("99999999.00", InvalidInput), ("-1.00", InvalidAmount),
    ("1.001", InvalidAmount), (None, InvalidInput)],
    ids=["one-fen-over-the-pool", "far-over", "negative", "too-many-decimals", "missing"])
def test_refuses_an_upheld_amount_that_is_not_a_line_within_the_pool(
        app: Goldsplit, clock: Clock, corrected: str | None, error: type[DomainError]) -> None:
    deal = won(app, clock, policy=CAPPED, approve=True)
    did = dispute(app, deal)
    refused(app, error, app.resolve_dispute, FINANCE, did, decision="uphold", reason="agreed",
            corrected_amount=corrected, field="corrected_amount")
    assert app.repository.get(UUID(did)).status == "open"
    # the edge: 900,000 + 900,000 + 1,200,000 is the pool exactly
    app.resolve_dispute(FINANCE, did, decision="uphold", reason="agreed", corrected_amount="12000.00")
    assert allocation(app, deal.aid).targets["carol"] == {"upfront": 840_000, "held": 360_000}


def test_an_upheld_amount_of_zero_claws_the_line_back(app: Goldsplit, clock: Clock) -> None:
    deal = won(app, clock, approve=True)
    app.resolve_dispute(FINANCE, dispute(app, deal), decision="uphold", reason="not hers",
                        corrected_amount="0")
    assert totals(entries(app, deal.aid))["carol"] == 0
    assert_follows_the_rule(app, deal)


@pytest.mark.parametrize(("first", "second"), [("reject", "uphold"), ("uphold", "reject"),
                                               ("reject", "reject"), ("uphold", "uphold")])
def test_resolving_a_dispute_twice_is_refused(app: Goldsplit, clock: Clock, first: str, second: str) -> None:
    deal = won(app, clock, policy=CAPPED, approve=True)
    did = dispute(app, deal)
    app.resolve_dispute(FINANCE, did, decision=first, reason="decided", corrected_amount="9500.00")
    booked = entries(app, deal.aid)
    refused(app, TransitionRefused, app.resolve_dispute, FINANCE, did, decision=second,
            reason="again", corrected_amount="9000.00", field="status")
    assert entries(app, deal.aid) == booked


@NOT_FINANCE
def test_only_finance_resolves_disputes(app: Goldsplit, clock: Clock, actor: Actor) -> None:
    deal = won(app, clock, policy=CAPPED, approve=True)
    did = dispute(app, deal)
    refused(app, NotAllowed, app.resolve_dispute, actor, did, decision="uphold", reason="yes",
            corrected_amount="9500.00")


def test_refuses_an_unknown_decision_or_dispute(app: Goldsplit, clock: Clock) -> None:
    deal = won(app, clock, approve=True)
    did = dispute(app, deal)
    refused(app, InvalidInput, app.resolve_dispute, FINANCE, did, decision="accept", reason="yes",
            field="decision")
    refused(app, DisputeNotFound, app.resolve_dispute, FINANCE, str(uuid4()), decision="reject",
            reason="no", field="dispute_id")
    refused(app, DisputeNotFound, app.resolve_dispute, FINANCE, deal.aid, decision="reject",
            reason="no", field="dispute_id")


def test_an_upheld_amount_survives_a_later_late_fact(app: Goldsplit, clock: Clock) -> None:
    deal = won(app, clock, policy=CAPPED, approve=True)
    app.resolve_dispute(FINANCE, dispute(app, deal), decision="uphold", reason="agreed",
                        corrected_amount="10000.00")
    clock.now = APRIL
    app.correct_opportunity(LEAD, deal.oid, amount="1100000.00",
                            reason="the signed contract")  # pool 3,300,000, cap 990,000
    targets = allocation(app, deal.aid).targets
    assert {m: t["upfront"] + t["held"] for m, t in targets.items()} == {
        "alice": 990_000, "bob": 990_000, "carol": 1_000_000}
    app.reverse_contribution(LEAD, deal.oid, deal.contributions["carol"], "the plan was reused")
    assert allocation(app, deal.aid).targets["carol"] == {"upfront": 700_000, "held": 300_000}
    assert_follows_the_rule(app, deal)


def test_a_refund_is_recorded_even_when_an_upheld_amount_no_longer_fits_the_pool(
        app: Goldsplit, clock: Clock) -> None:
    deal = won(app, clock, policy=CAPPED, approve=True)
    app.resolve_dispute(FINANCE, dispute(app, deal), decision="uphold", reason="agreed",
                        corrected_amount="12000.00")
    pay(app, deal, "500000.00", "2026-03-02")
    app.refund(FINANCE, deal.oid, amount="200000.00", reason="one module returned", refund_id="r1")
    assert opportunity(app, deal.oid).amount == 80_000_000
    assert_follows_the_rule(app, deal)


# -- periods -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("today", "closing"), [
    (MARCH, "2026-03"), (MARCH, "2026-04"), (MARCH, "2026-Q1"),
    (datetime(2026, 3, 31, 23, 59, tzinfo=UTC), "2026-03")], ids=["current", "future", "quarter",
                                                                 "its-last-day"])
def test_refuses_closing_a_period_that_is_not_over(app: Goldsplit, clock: Clock, today: datetime,
                                                    closing: str) -> None:
    clock.now = today
    error = refused(app, PeriodNotOver, close, app, closing, {}, field="period")
    assert isinstance(error, InvalidInput)  # 422


def test_a_month_is_closable_the_day_after_its_last_day(app: Goldsplit, clock: Clock) -> None:
    clock.now = datetime(2026, 4, 1, 0, 0, tzinfo=UTC)
    close(app, "2026-03")
    closed = events(app, Period.create_id("2026-03"))
    assert [type(e) for e in closed] == [Period.Started, Period.Closed]
    assert (closed[-1].actor, closed[-1].report) == ("fiona", {"entries": 0})


def test_refuses_closing_a_month_already_closed(app: Goldsplit, clock: Clock) -> None:
    deal = won(app, clock, approve=True)
    close(app, "2026-02")
    error = refused(app, PeriodClosed, close, app, "2026-02", field="period")
    assert isinstance(error, Conflict)  # 409
    clock.now = APRIL
    refused(app, PeriodClosed, close, app, "2026-Q1", versions(app, "2026-01", "2026-02", "2026-03"),
            field="period")
    assert (period(app, "2026-01"), period(app, "2026-03")) == (None, None)  # nothing of Q1 closed
    assert_follows_the_rule(app, deal)


@pytest.mark.parametrize("bad", ["2026-13", "2026-3", "Q1", "2026-Q5", "", None, 202603])
def test_refuses_a_period_that_is_not_a_month_or_a_quarter(app: Goldsplit, bad: object) -> None:
    refused(app, InvalidInput, app.close_period, FINANCE, bad, cutoff=0, report={}, versions={},
            field="period")


@NOT_FINANCE
def test_only_finance_closes_periods(app: Goldsplit, clock: Clock, actor: Actor) -> None:
    clock.now = APRIL
    refused(app, NotAllowed, app.close_period, actor, "2026-03", cutoff=0, report={}, versions={})


def test_a_quarter_closes_its_three_months(app: Goldsplit, clock: Clock) -> None:
    deal = won(app, clock, approve=True)
    clock.now = APRIL
    close(app, "2026-Q1", versions(app, "2026-01", "2026-02", "2026-03"))
    assert all(period(app, m).closed for m in ("2026-01", "2026-02", "2026-03"))
    pay(app, deal, "10.00", "2026-03-30")
    assert {e["period"] for e in entries(app, deal.aid) if e["pays"] == "release"} == {"2026-04"}


def test_a_closed_month_never_gets_another_entry(app: Goldsplit, clock: Clock) -> None:
    deal = won(app, clock, policy=CAPPED, approve=True)
    close(app, "2026-02")
    february = events(app, Period.create_id("2026-02"))
    booked_in_february = [e for e in entries(app, deal.aid) if e["period"] == "2026-02"]
    pay(app, deal, "100000.00", "2026-02-27")
    app.resolve_dispute(FINANCE, dispute(app, deal), decision="uphold", reason="agreed",
                        corrected_amount="9500.00")
    app.reverse_contribution(LEAD, deal.oid, deal.contributions["bob"], "duplicate")
    app.refund(FINANCE, deal.oid, amount="50000.00", reason="returned")
    app.cancel_won_deal(FINANCE, deal.oid, "withdrawn")
    assert events(app, Period.create_id("2026-02")) == february
    assert [e for e in entries(app, deal.aid) if e["period"] == "2026-02"] == booked_in_february
    assert {e["period"] for e in entries(app, deal.aid)} == {"2026-02", "2026-03"}
    assert_follows_the_rule(app, deal)


def test_a_booking_between_the_replay_and_the_close_makes_the_close_refuse(
        app: Goldsplit, clock: Clock) -> None:
    deal = won(app, clock, approve=True)
    pay(app, deal, "100000.00", "2026-03-02")
    clock.now = APRIL
    replayed = versions(app, "2026-03")
    pay(app, deal, "100000.00", "2026-03-30")  # books a release into March meanwhile
    refused(app, ConcurrencyConflict, close, app, "2026-03", replayed)
    assert not period(app, "2026-03").closed
    close(app, "2026-03")  # replayed again
    assert period(app, "2026-03").closed


def test_a_first_booking_into_a_month_after_the_replay_makes_the_close_refuse(
        app: Goldsplit, clock: Clock) -> None:
    deal = won(app, clock, approve=True)
    clock.now = APRIL
    replayed = versions(app, "2026-03")
    assert replayed == {"2026-03": 0}
    pay(app, deal, "100000.00", "2026-03-30")
    refused(app, ConcurrencyConflict, close, app, "2026-03", replayed)
    assert not period(app, "2026-03").closed


def test_every_booking_is_counted_in_the_month_it_falls_in(app: Goldsplit, clock: Clock) -> None:
    deal = approved_and_a_third_paid(app, clock)
    app.reverse_contribution(LEAD, deal.oid, deal.contributions["carol"], "unused")
    by_month = totals([{**e, "amount": 1} for e in entries(app, deal.aid)], "period")
    assert {m: period(app, m).booked for m in by_month} == by_month == {
        "2026-02": 3, "2026-03": 3, "2026-04": 6}


# -- cap, holdback and currencies ----------------------------------------------------------------

def test_a_capped_team_is_paid_its_capped_lines_and_never_the_unallocated(
        app: Goldsplit, clock: Clock) -> None:
    deal = won(app, clock, policy=CAPPED, approve=True)
    result = allocation(app, deal.aid).result
    assert (result["pool"], result["unallocated"]) == (3_000_000, 300_000)
    assert {x["member_id"]: (x["amount"], x["upfront"], x["held"]) for x in result["lines"]} == {
        m: (900_000, 630_000, 270_000) for m in ("alice", "bob", "carol")}
    pay(app, deal, "400000.00", "2026-03-02")
    pay(app, deal, "600000.00", "2026-03-09")
    assert totals(entries(app, deal.aid)) == {m: 900_000 for m in ("alice", "bob", "carol")}
    assert sum(e["amount"] for e in entries(app, deal.aid)) == result["pool"] - result["unallocated"]
    assert_follows_the_rule(app, deal)


def test_the_held_part_is_rounded_half_to_even_and_released_exactly(app: Goldsplit, clock: Clock) -> None:
    # a quarter held: alice 1,333,333 × 0.25 = 333,333.25 -> 333,333; carol 666,667 × 0.25 =
    # 166,666.75 -> 166,667; bob 250,000 exactly
    deal = won(app, clock, policy=incentive(holdback="0.25"), approve=True)
    assert allocation(app, deal.aid).targets == {"alice": {"upfront": 1_000_000, "held": 333_333},
                                                 "bob": {"upfront": 750_000, "held": 250_000},
                                                 "carol": {"upfront": 500_000, "held": 166_667}}
    for n, (amount, on) in enumerate([("1.00", "2026-03-01"), ("499999.99", "2026-03-02"),
                                      ("499999.01", "2026-03-03")]):
        pay(app, deal, amount, on, f"p{n}")
        assert_follows_the_rule(app, deal)
    assert entries(app, deal.aid, "payment:p0") == []  # 100 fen of 100,000,000 release no whole fen
    # floor(held × 50,000,099 / 100,000,000)
    assert totals(entries(app, deal.aid, "payment:p1")) == {"alice": 166_666, "bob": 125_000,
                                                            "carol": 83_333}
    assert totals(entries(app, deal.aid)) == {"alice": 1_333_333, "bob": 1_000_000, "carol": 666_667}


@pytest.mark.parametrize(("currency", "amount", "minor", "payments", "too_fine"), [
    ("JPY", "123456789", 123_456_789, ["1", "61728393", "61728395"], "1.5"),
    ("CNY", "1234567.89", 123_456_789, ["0.01", "617283.93", "617283.95"], "1.005"),
    ("KWD", "1234.567", 1_234_567, ["0.001", "617.283", "617.283"], "1.0005"),
], ids=["JPY-0", "CNY-2", "KWD-3"])
def test_every_currency_is_exact_to_its_minor_unit(app: Goldsplit, clock: Clock, currency: str,
                                                   amount: str, minor: int, payments: list[str],
                                                   too_fine: str) -> None:
    deal = won(app, clock, amount=amount, currency=currency, approve=True)
    result = allocation(app, deal.aid).result
    deal_minor = opportunity(app, deal.oid).amount
    assert deal_minor == minor
    assert result["pool"] == round_half_even(Fraction(deal_minor * 3, 100))
    assert sum(x["amount"] for x in result["lines"]) + result["unallocated"] == result["pool"]
    refused(app, InvalidAmount, app.receive_payment, FINANCE, deal.oid, amount=too_fine,
            currency=currency, received_on="2026-03-01", field="amount")
    for n, part in enumerate(payments):
        app.receive_payment(FINANCE, deal.oid, amount=part, currency=currency,
                            received_on=(date(2026, 3, 1) + timedelta(days=n)).isoformat())
        assert_follows_the_rule(app, deal)
    assert opportunity(app, deal.oid).cash == deal_minor
    assert {e["currency"] for e in entries(app, deal.aid)} == {currency}
    assert all(isinstance(e["amount"], int) for e in entries(app, deal.aid))
    assert totals(entries(app, deal.aid)) == {x["member_id"]: x["amount"] for x in result["lines"]}


def test_after_the_win_only_a_lead_changes_the_facts_that_move_money(app: Goldsplit, clock: Clock) -> None:
    """The AR's own reversal or amount correction would book adjustments at once, unchecked."""
    deal = won(app, clock, approve=True)
    refused(app, NotAllowed, app.reverse_contribution, ALICE, deal.oid, deal.contributions["bob"],
            "not really a demo")
    refused(app, NotAllowed, app.correct_opportunity, ALICE, deal.oid, amount="5000000.00")
    app.reverse_contribution(LEAD, deal.oid, deal.contributions["bob"], "not really a demo")
    assert_follows_the_rule(app, deal)


def test_an_upheld_line_of_zero_may_be_spelled_with_decimals(app: Goldsplit, clock: Clock) -> None:
    deal = won(app, clock, approve=True)
    app.resolve_dispute(FINANCE, dispute(app, deal), decision="uphold", reason="none of it counted",
                        corrected_amount="0.00")
    assert allocation(app, deal.aid).overrides == {"carol": 0}  # dispute() raises carol's
    assert_follows_the_rule(app, deal)

"""Four eyes: nobody decides alone a fact that raises their own amount or lowers a teammate's.

Each test is an attack by someone the ledger pays, through a route the API allows, and what now
stops it. The policies are the defaults: EUR deals grade C below 130,000.00, B below 400,000.00
and A above; pool rates 1 %, 2 % and 3 %; shares AR 40 %, SR 30 %, FR 20 %, SUPPORT 10 %.
"""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

import pytest

from domain.aggregates import Allocation, Ask, Opportunity
from domain.application import Actor, Goldsplit
from domain.exceptions import Conflict, InvalidInput, LeadsCall, NotAllowed, TransitionRefused
from tests.builders import contribute, open_deal, seat_triangle, worked
from tests.ledger import ALICE, BOB, CAROL, FINANCE, LEAD, events, head, refused

NOW = datetime(2026, 3, 18, 10, 0, tzinfo=UTC)
TODAY = NOW.date().isoformat()
OTHER_LEAD = Actor("leo", "lead")
MEMBERS = {"alice": "sales", "bob": "presales", "carol": "delivery", "dave": "commercial",
           "lin": "management", "leo": "management", "fiona": "finance"}


def deal(app: Goldsplit, amount: str = "100000.00") -> str:
    """alice opened it (she is its AR) and seated bob as SR and carol as FR; each did confirmed work
    on 2026-03-10."""
    oid = open_deal(app, ALICE, amount=amount, currency="EUR")
    seat_triangle(app, oid, ALICE, SR="bob", FR="carol")
    for actor, kind in ((ALICE, "visit"), (BOB, "demo"), (CAROL, "delivery_plan")):
        worked(app, oid, actor, kind, "2026-03-10T09:00:00+00:00",
               confirmed_by=LEAD if actor is ALICE else ALICE, summary=kind)
    return oid


def opportunity(app: Goldsplit, oid: str) -> Opportunity:
    return app.repository.get(UUID(oid))


def pool(app: Goldsplit, oid: str) -> int:
    return app.repository.get(Allocation.create_id(UUID(oid))).result["pool"]


# -- the grade that sets the pool rate ----------------------------------------------------------

def test_the_pool_rate_comes_from_the_grade_of_the_won_amount_not_of_a_raised_open_amount(
        app: Goldsplit) -> None:
    """The attack: raise the open amount until the policy grades it A, then win at the real amount."""
    oid = deal(app)
    assert opportunity(app, oid).grade == "C"
    refused(app, LeadsCall, app.correct_opportunity, ALICE, oid, amount="500000.00", field="amount")
    app.correct_opportunity(LEAD, oid, amount="500000.00", reason="the customer added two sites")
    assert opportunity(app, oid).grade == "A"
    app.win(ALICE, oid, closed_on=TODAY, amount="100000.00")
    assert (opportunity(app, oid).grade, pool(app, oid)) == ("C", 100_000)  # 1 % of 100,000.00


def test_a_leads_override_stands_at_the_win_and_records_who_and_why(app: Goldsplit) -> None:
    oid = deal(app)
    refused(app, InvalidInput, app.correct_opportunity, LEAD, oid, grade="A", field="reason")
    app.correct_opportunity(LEAD, oid, grade="A", reason="lighthouse customer for the region")
    app.win(ALICE, oid, closed_on=TODAY)
    assert pool(app, oid) == 300_000  # 3 % of 100,000.00
    [override] = [e for e in events(app, oid) if isinstance(e, Opportunity.Graded) and e.overridden]
    assert override.actor == "lin"
    assert override.reasons == ["set by lin (lead): lighthouse customer for the region; the policy "
                                "gives C"]


def test_a_lead_with_a_stake_in_the_deal_does_not_override_its_grade(app: Goldsplit) -> None:
    oid = deal(app)
    app.add_supporter(LEAD, oid, "lin")
    refused(app, LeadsCall, app.correct_opportunity, LEAD, oid, grade="A", reason="mine",
            field="grade")
    refused(app, LeadsCall, app.correct_opportunity, LEAD, oid, attributes={"lighthouse": True},
            field="attributes.lighthouse")
    app.correct_opportunity(OTHER_LEAD, oid, grade="A", reason="lighthouse customer")


# -- the won amount and the close date ------------------------------------------------------------

@pytest.mark.parametrize("amount", ["100000.01", "999999999999999.99"])
def test_an_ar_cannot_win_above_the_open_amount_alone(app: Goldsplit, amount: str) -> None:
    oid = deal(app)
    refused(app, LeadsCall, app.win, ALICE, oid, closed_on=TODAY, amount=amount, field="amount")
    assert opportunity(app, oid).stage == "open"


def test_an_ar_wins_at_or_below_the_open_amount_today(app: Goldsplit) -> None:
    oid = deal(app)
    app.win(ALICE, oid, closed_on=TODAY, amount="90000.00")
    won = [e for e in events(app, oid) if isinstance(e, Opportunity.Won)][0]
    assert (won.amount, won.closed_on, won.actor, won.at) == (9_000_000, TODAY, "alice", NOW.isoformat())
    assert getattr(won, "lead_call", None) is None


@pytest.mark.parametrize("closed_on, call", [
    ("2026-02-27", "earlier_month"),  # the month of the close picks the period and the policy
    ("2026-03-09", "before_confirmed_work"),  # bob's and carol's work of 03-10 would not count
])
def test_an_ar_cannot_date_the_close_back_alone(app: Goldsplit, closed_on: str, call: str) -> None:
    oid = deal(app)
    refusal = refused(app, LeadsCall, app.win, ALICE, oid, closed_on=closed_on, field="closed_on")
    assert "lead's call" in refusal.detail
    recorded = app.win(LEAD, oid, closed_on=closed_on, reason="the contract was signed then")
    won = [e for e in events(app, oid) if isinstance(e, Opportunity.Won)][0]
    assert (won.actor, won.reason, call in won.lead_call) == ("lin", "the contract was signed then", True)
    assert recorded.allocation_id == str(Allocation.create_id(UUID(oid)))


def test_a_close_date_in_the_future_is_bad_input_not_a_leads_call(app: Goldsplit) -> None:
    oid = deal(app)
    refused(app, InvalidInput, app.win, ALICE, oid, closed_on="2026-04-02", field="closed_on")
    refused(app, InvalidInput, app.ask, ALICE, oid, action="win", closed_on="2026-04-02",
            amount="200000.00", reason="next month", field="closed_on")


def test_an_ar_cannot_date_the_close_back_to_another_policy_version(app: Goldsplit) -> None:
    oid = deal(app)
    document = {k: v for k, v in app.policies("incentive")[-1].document().items()
                if k not in ("version", "hash")}
    app.add_policy(FINANCE, "incentive", {**document, "effective_from": "2026-03-15",
                                          "role_shares": {"AR": "0.7", "SR": "0.1", "FR": "0.1",
                                                          "SUPPORT": "0.1"}})
    refused(app, LeadsCall, app.win, ALICE, oid, closed_on="2026-03-12", field="closed_on")
    app.win(ALICE, oid, closed_on=TODAY)


def test_a_lead_needs_a_reason_for_a_leads_call_and_a_stake_makes_it_another_leads(
        app: Goldsplit) -> None:
    oid = deal(app)
    refused(app, InvalidInput, app.win, LEAD, oid, closed_on="2026-02-27", field="reason")
    app.assign_triangle_role(LEAD, oid, "FR", "lin")  # lin takes a seat: now lin gains from it
    refused(app, LeadsCall, app.win, LEAD, oid, closed_on="2026-02-27", reason="signed then",
            field="closed_on")


# -- reversals ------------------------------------------------------------------------------------

def test_an_ar_cannot_reverse_a_teammates_confirmed_work_alone(app: Goldsplit) -> None:
    """The attack: reverse the SR's confirmed work, the SR role goes inactive and its share comes
    to the AR."""
    oid = deal(app)
    bobs = next(c for c in opportunity(app, oid).contributions.values() if c["member_id"] == "bob")
    refused(app, LeadsCall, app.reverse_contribution, ALICE, oid, bobs["id"], "not done",
            field="contribution_id")
    alices = next(c for c in opportunity(app, oid).contributions.values() if c["member_id"] == "alice")
    app.reverse_contribution(ALICE, oid, alices["id"], "a duplicate")  # her own: she only loses
    pending = contribute(app, oid, BOB, "poc", "2026-03-11T09:00:00+00:00", summary="poc")
    app.reverse_contribution(ALICE, oid, pending, "no PoC happened")  # not confirmed: it counted for nothing
    app.reverse_contribution(LEAD, oid, bobs["id"], "the demo was carol's")
    assert opportunity(app, oid).contributions[bobs["id"]]["status"] == "reversed"


# -- asks: the AR asks, a lead decides -----------------------------------------------------------

def test_the_ar_asks_and_a_lead_without_a_stake_approves_with_a_reason(app: Goldsplit) -> None:
    oid = deal(app)
    asked = app.ask(ALICE, oid, action="win", amount="120000.00", closed_on="2026-03-12",
                    reason="the signed contract is larger")
    ask = app.repository.get(UUID(asked.id))
    assert (ask.status, ask.calls, ask.asked_by) == ("open", ["above_open_amount"], "alice")
    assert opportunity(app, oid).stage == "open"  # nothing changes until a lead decides
    refused(app, NotAllowed, app.decide_ask, ALICE, asked.id, decision="approve", reason="mine")
    refused(app, NotAllowed, app.decide_ask, BOB, asked.id, decision="approve", reason="sure")
    app.add_supporter(LEAD, oid, "lin")
    refused(app, LeadsCall, app.decide_ask, LEAD, asked.id, decision="approve", reason="fine",
            field="decision")
    app.decide_ask(OTHER_LEAD, asked.id, decision="approve", reason="contract checked")
    deal_now = opportunity(app, oid)
    assert (deal_now.stage, deal_now.amount, deal_now.closed_on) == ("won", 12_000_000, "2026-03-12")
    assert app.repository.get(UUID(asked.id)).status == "approved"
    won = [e for e in events(app, oid) if isinstance(e, Opportunity.Won)][0]
    assert (won.actor, won.reason) == ("leo", "contract checked")
    refused(app, TransitionRefused, app.decide_ask, OTHER_LEAD, asked.id, decision="reject", reason="late",
            field="status")


def test_a_rejected_ask_changes_nothing(app: Goldsplit) -> None:
    oid = deal(app)
    bobs = next(c for c in opportunity(app, oid).contributions.values() if c["member_id"] == "bob")
    asked = app.ask(ALICE, oid, action="reverse", contribution_id=bobs["id"], reason="never happened")
    app.decide_ask(LEAD, asked.id, decision="reject", reason="the demo is in the CRM")
    assert opportunity(app, oid).contributions[bobs["id"]]["status"] == "confirmed"
    assert isinstance(app.repository.get(UUID(asked.id)), Ask)


def test_an_approved_correction_raises_the_open_amount(app: Goldsplit) -> None:
    oid = deal(app)
    asked = app.ask(ALICE, oid, action="correct", amount="150000.00", reason="a third site")
    app.decide_ask(LEAD, asked.id, decision="approve", reason="confirmed by the customer")
    assert (opportunity(app, oid).amount, opportunity(app, oid).grade) == (15_000_000, "B")


def test_only_the_ar_asks_and_only_for_a_leads_call(app: Goldsplit) -> None:
    oid = deal(app)
    refused(app, NotAllowed, app.ask, BOB, oid, action="correct", amount="150000.00", reason="more")
    refused(app, InvalidInput, app.ask, ALICE, oid, action="correct", amount="90000.00",
            reason="less", field="action")
    refused(app, InvalidInput, app.ask, ALICE, oid, action="grade", reason="A please", field="action")
    refused(app, InvalidInput, app.ask, ALICE, oid, action="win", reason="now", field="closed_on")


# -- seats, support, disputes, approval ---------------------------------------------------------

def test_one_member_holds_one_seat_unless_a_lead_seats_them(app: Goldsplit) -> None:
    """The attack: the AR takes every seat and so every role's share."""
    oid = deal(app)
    refused(app, NotAllowed, app.assign_triangle_role, ALICE, oid, "SR", "alice", field="member_id")
    refused(app, NotAllowed, app.add_supporter, ALICE, oid, "alice", field="member_id")
    refused(app, NotAllowed, app.assign_triangle_role, ALICE, oid, "FR", "bob", field="member_id")
    app.assign_triangle_role(ALICE, oid, "SR", "dave")  # a handover: bob leaves the seat
    app.assign_triangle_role(ALICE, oid, "FR", "bob")  # and may take another
    app.assign_triangle_role(LEAD, oid, "SR", "bob")  # a lead seats someone twice
    assert opportunity(app, oid).roles_of("bob") == ["SR", "FR"]


def test_one_open_dispute_per_member_per_line(app: Goldsplit) -> None:
    oid = deal(app)
    aid = app.win(ALICE, oid, closed_on=TODAY).allocation_id
    first = app.raise_dispute(BOB, aid, member_id="bob", reason="the demo weighs more").id
    refused(app, Conflict, app.raise_dispute, BOB, aid, member_id="bob", reason="again",
            field="member_id")
    assert app.raise_dispute(BOB, aid, member_id="bob", reason="the demo weighs more",
                             dispute_id=UUID(first)).id == first  # a retry of the same one
    app.raise_dispute(CAROL, aid, member_id="carol", reason="the plan weighs more")
    app.resolve_dispute(FINANCE, first, decision="reject", reason="the policy says 3")
    app.raise_dispute(BOB, aid, member_id="bob", reason="a new fact")


def won_with_fiona(app: Goldsplit) -> tuple[str, str]:
    """A won deal on which fiona, of finance, did confirmed work: she has a line (oid, aid)."""
    oid = deal(app)
    app.add_supporter(ALICE, oid, "fiona")
    cid = contribute(app, oid, Actor("fiona", "member"), "pricing_review", "2026-03-12T09:00:00+00:00",
                     summary="pricing_review")
    app.confirm_contribution(ALICE, oid, cid)
    return oid, app.win(ALICE, oid, closed_on=TODAY).allocation_id


def test_finance_neither_approves_nor_pays_a_split_it_has_a_line_in_nor_resolves_its_own_dispute(
        app: Goldsplit) -> None:
    oid, aid = won_with_fiona(app)
    refused(app, NotAllowed, app.approve_allocation, FINANCE, aid)
    dispute = app.raise_dispute(FINANCE, aid, member_id="fiona", reason="pricing is worth more").id
    refused(app, NotAllowed, app.resolve_dispute, FINANCE, dispute, decision="uphold",
            reason="yes", corrected_amount="500.00")
    app.approve_allocation(Actor("frank", "finance"), aid)
    # cash releases the held parts: fiona may not record a payment on a deal she has a line in
    refused(app, NotAllowed, app.receive_payment, FINANCE, oid, amount="50000.00", currency="EUR",
            received_on=TODAY)
    app.receive_payment(Actor("frank", "finance"), oid, amount="50000.00", currency="EUR",
                        received_on=TODAY)


def test_finance_with_a_line_decides_nobody_else_s_dispute_on_that_split(app: Goldsplit) -> None:
    """Upholding bob's line redistributes the others, rejecting it keeps them: fiona, who has a
    line, may do neither; frank, who has none, decides."""
    oid, aid = won_with_fiona(app)
    dispute = app.raise_dispute(BOB, aid, member_id="bob", reason="the demo won it").id
    for decision, amount in (("reject", None), ("uphold", "1.00")):
        refused(app, NotAllowed, app.resolve_dispute, FINANCE, dispute, decision=decision,
                reason="mine stays as it is", corrected_amount=amount)
    app.resolve_dispute(Actor("frank", "finance"), dispute, decision="reject", reason="the policy says 3")


def test_a_refund_id_is_the_ledgers_not_a_deals(app: Goldsplit) -> None:
    first, second = deal(app), deal(app)
    for oid in (first, second):
        app.win(ALICE, oid, closed_on=TODAY)
        app.receive_payment(FINANCE, oid, amount="50000.00", currency="EUR", received_on=TODAY)
    app.refund(FINANCE, first, amount="1000.00", reason="a returned licence", refund_id="RF-1")
    before = head(app)
    refused(app, Conflict, app.refund, FINANCE, second, amount="1000.00", reason="the same one",
            refund_id="RF-1", field="refund_id")
    assert head(app) == before
    app.refund(FINANCE, first, amount="1000.00", reason="a returned licence", refund_id="RF-1")  # a retry
    assert head(app) == before

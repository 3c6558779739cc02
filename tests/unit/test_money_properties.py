"""Property tests for the money over random histories of one won deal, through the Application in
memory: payments (a random split of the deal amount), reversals, amount corrections, disputes,
refunds, months that close and, at some point, the approval.

After every step of every history:
(a) once approved, each member's entries add up to what is payable to them now (their target's
    upfront part plus its held part released by the cash collected); before approval nothing is
    booked; a member without a line is owed nothing;
(b) once the deal is paid in full, the entries over all months add up to each member's line;
(c) the split of the deal as its facts stand gives lines plus unallocated equal to the pool, the
    allocation's targets are those lines (an upheld amount replacing a line), and never more than
    the pool;
(d) the Allocation's stored events replayed into a fresh aggregate give those targets and, as paid
    so far, the sums of the stored entries.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.aggregates import Allocation, Opportunity, Period
from domain.allocation import CountedContribution, allocate
from domain.application import Actor, Goldsplit
from domain.exceptions import DomainError, InvalidInput, OpportunityClosed
from domain.money import format_amount
from domain.payables import Target
from domain.policy import IncentivePolicy
from tests.ledger import ADMIN, FINANCE, LEAD, Clock, events, head, replay

START = datetime(2026, 1, 20, 9, 0, tzinfo=UTC)
WON_ON = "2026-01-20"
SEATS = (("AR", "alice", "sales"), ("SR", "bob", "presales"), ("FR", "carol", "delivery"))
KINDS = ("visit", "demo", "delivery_plan", "poc")
SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])

parts = st.fractions(min_value=Fraction(1, 1000), max_value=1, max_denominator=1000)
steps = st.one_of(  # a payment or a refund may be sent twice, with the same id
    st.tuples(st.just("pay"), parts, st.booleans()),
    st.tuples(st.just("pay"), parts, st.booleans()),
    st.tuples(st.just("reverse"), st.integers(0, 5)),
    st.tuples(st.just("dispute"), st.integers(0, 2), st.booleans(), parts),
    st.tuples(st.just("refund"), parts, st.booleans()),
    st.tuples(st.just("correct"), st.fractions(min_value=Fraction(1, 2), max_value=2,
                                                max_denominator=100)),
    st.tuples(st.just("month"), st.integers(5, 40)),
)


@st.composite
def histories(draw: st.DrawFn) -> dict:
    history = draw(st.lists(steps, max_size=10))
    history.insert(draw(st.integers(0, len(history))), ("approve",))
    if draw(st.integers(0, 9)) == 0:
        history.insert(draw(st.integers(0, len(history))), ("cancel",))
    return {
        "amount": draw(st.integers(100, 10**11)),  # fen
        "grade": draw(st.sampled_from("ABC")),
        "holdback": draw(st.sampled_from([None, "0.2", "0.25", "0.3", "0.333"])),
        "cap": draw(st.sampled_from([None, None, "0.3", "0.45"])),
        "work": draw(st.lists(st.tuples(st.integers(0, 2), st.sampled_from(KINDS)), min_size=1,
                              max_size=6)),
        "steps": history,
    }


@dataclass
class Story:
    app: Goldsplit
    clock: Clock
    oid: str
    aid: str
    contributions: list[str]
    closed: dict[str, list[dict]] = field(default_factory=dict)  # month -> its entries when closed

    @property
    def deal(self) -> Opportunity:
        return self.app.repository.get(UUID(self.oid))

    @property
    def allocation(self) -> Allocation:
        return self.app.repository.get(UUID(self.aid))

    def entries(self) -> list[dict]:
        return [e for event in events(self.app, self.aid) for e in getattr(event, "entries", [])]


@contextmanager
def story_of(history: dict) -> Iterator[Story]:
    clock = Clock(START)
    app = Goldsplit(env={"PERSISTENCE_MODULE": "eventsourcing.popo"}, clock=clock)
    try:
        for _, member, department in SEATS:
            app.register_member(ADMIN, member, member.title(), department)
        app.add_policy(FINANCE, "incentive", {
            "name": "random", "effective_from": "2026-01-01",
            "pool_rate_by_grade": {"A": "0.03", "B": "0.02", "C": "0.01"},
            "role_shares": {"AR": "0.40", "SR": "0.30", "FR": "0.20", "SUPPORT": "0.10"},
            "kind_weights": {"visit": 1, "demo": 3, "delivery_plan": 4, "poc": 8},
            "member_cap": history["cap"], "holdback": history["holdback"]})
        oid = app.open_opportunity(LEAD, account_id="acme", name="Acme", currency="CNY",
                                   amount=format_amount(history["amount"], "CNY"),
                                   expected_close="2026-03-31", grade=history["grade"],
                                   reason="the rate this property pins").id
        for role, member, _ in SEATS:
            app.assign_triangle_role(LEAD, oid, role, member)
        contributions = []
        for seat, kind in history["work"]:
            member = SEATS[seat][1]
            cid = app.record_contribution(LEAD, oid, member_id=member, kind=kind, summary=kind,
                                          occurred_at="2026-01-10T10:00:00+00:00").id
            app.confirm_contribution(LEAD, oid, cid)
            contributions.append(cid)
        aid = app.win(LEAD, oid, closed_on=WON_ON).allocation_id
        yield Story(app, clock, oid, aid, contributions)
    finally:
        app.close()


def take(story: Story, step: tuple) -> None:
    """One step of a history; a refusal records nothing and is one the step may meet."""
    app, deal = story.app, story.deal
    today = story.clock().date()
    before = head(app)
    try:
        match step:
            case ("approve",):
                app.approve_allocation(FINANCE, story.aid)
            case ("cancel",):
                app.cancel_won_deal(FINANCE, story.oid, "the customer withdrew")
            case ("pay", part, twice):
                outstanding = deal.amount - deal.cash
                if outstanding > 0:
                    amount = format_amount(max(1, int(outstanding * part)), "CNY")
                    pid = f"p{before}"
                    for _ in range(1 + twice):
                        app.receive_payment(FINANCE, story.oid, amount=amount, currency="CNY",
                                            received_on=today.isoformat(), payment_id=pid)
            case ("reverse", n):
                cid = story.contributions[n % len(story.contributions)]
                if deal.stage == "won" and deal.contributions[cid]["status"] != "reversed":
                    app.reverse_contribution(LEAD, story.oid, cid, "did not happen")
            case ("refund", part, twice):
                amount = int(deal.cash * part)
                if 0 < amount < deal.amount:
                    for _ in range(1 + twice):
                        app.refund(FINANCE, story.oid, amount=format_amount(amount, "CNY"),
                                   reason="returned", refund_id=f"r{before}")
            case ("correct", factor):
                amount = max(deal.cash, int(deal.amount * factor), 1)
                if amount != deal.amount:
                    app.correct_opportunity(LEAD, story.oid, amount=format_amount(amount, "CNY"),
                                            reason="the signed contract")
            case ("dispute", seat, upheld, part):
                dispute(story, SEATS[seat][1], upheld, part)
            case ("month", days):
                story.clock.advance(days=days)
                close_last_month(story)
    except DomainError as refusal:
        assert head(app) == before
        cancelled = isinstance(refusal, OpportunityClosed) and deal.stage == "cancelled"
        # An upheld amount that does not fit the pool is refused; it must record nothing.
        squeezed = isinstance(refusal, InvalidInput) and refusal.field == "corrected_amount" and \
            story.allocation.overrides
        assert cancelled or squeezed, refusal


def dispute(story: Story, member: str, upheld: bool, part: Fraction) -> None:
    app, allocation = story.app, story.allocation
    if member not in allocation.targets and member not in allocation.paid:
        return
    did = app.raise_dispute(Actor(member, "member"), story.aid, member_id=member, reason="unfair").id
    if not upheld:
        app.resolve_dispute(FINANCE, did, decision="reject", reason="per policy")
        return
    pool = allocation.pool  # as the facts stand now, after refunds and corrections
    lines = {m: t["upfront"] + t["held"] for m, t in allocation.targets.items()}
    room = lines.get(member, 0) + pool - sum(lines.values())
    corrected = int(room * part)
    app.resolve_dispute(FINANCE, did, decision="uphold", reason="agreed",
                        corrected_amount=format_amount(corrected, "CNY") if corrected else "0")


def close_last_month(story: Story) -> None:
    today = story.clock().date()
    month = (today.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    try:
        period = story.app.repository.get(Period.create_id(month))
    except AggregateNotFoundError:  # nobody booked into it
        period = None
    if period is not None and period.closed:
        return
    story.app.close_period(FINANCE, month, cutoff=head(story.app), report={},
                           versions={month: period.version if period else 0})
    story.closed[month] = [e for e in story.entries() if e["period"] == month]


# -- what must hold after every step ---------------------------------------------------------------

def sums(entries: list[dict]) -> dict[str, int]:
    summed: dict[str, int] = {}
    for entry in entries:
        summed[entry["member_id"]] = summed.get(entry["member_id"], 0) + entry["amount"]
    return summed


def expected_targets(story: Story) -> tuple[dict, dict]:
    """The split of the deal as its facts stand (by the allocation's own policy), and the targets
    it gives with the upheld amounts in place of lines."""
    deal, allocation = story.deal, story.allocation
    policy = IncentivePolicy.from_stored(allocation.policy)
    result = allocate(amount=deal.amount, grade=deal.grade, closed_on=date.fromisoformat(deal.closed_on),
                      contributions=[CountedContribution.from_record(c)
                                     for c in deal.contributions.values()], policy=policy)
    if deal.stage == "cancelled":
        return {"pool": result.pool, "lines": 0, "unallocated": 0}, {}
    targets = {line.member_id: {"upfront": line.upfront, "held": line.held} for line in result.lines}
    for member, amount in allocation.overrides.items():
        corrected = Target.of(amount, policy.holdback)
        targets[member] = {"upfront": corrected.upfront, "held": corrected.held}
    totals = {"pool": result.pool, "lines": sum(line.amount for line in result.lines),
              "unallocated": result.unallocated}
    return totals, targets


def follows_the_rule(story: Story) -> None:  # (a)
    deal, allocation, booked = story.deal, story.allocation, sums(story.entries())
    if not allocation.approved:
        assert booked == {}
        return
    now = {m: sum(Target(t["upfront"], t["held"]).payable(deal.cash, deal.amount))
           for m, t in allocation.targets.items()}
    assert {m: booked.get(m, 0) for m in now} == now
    assert {m: v for m, v in booked.items() if m not in now and v} == {}


def paid_in_full_pays_the_lines(story: Story) -> None:  # (b)
    deal, allocation = story.deal, story.allocation
    if allocation.approved and deal.stage == "won" and deal.cash == deal.amount:
        booked = sums(story.entries())
        assert {m: booked.get(m, 0) for m in allocation.targets} == {
            m: t["upfront"] + t["held"] for m, t in allocation.targets.items()}


def lines_and_unallocated_are_the_pool(story: Story) -> None:  # (c)
    totals, targets = expected_targets(story)
    if story.deal.stage != "cancelled":
        assert totals["lines"] + totals["unallocated"] == totals["pool"]
    assert story.allocation.targets == targets
    assert sum(t["upfront"] + t["held"] for t in targets.values()) <= totals["pool"]


def replay_gives_the_same(story: Story) -> None:  # (d)
    stored = events(story.app, story.aid)
    fresh = replay(stored)
    _, targets = expected_targets(story)
    assert (fresh.status, fresh.targets, fresh.overrides) == (
        story.allocation.status, targets, story.allocation.overrides)
    paid: dict[str, dict[str, int]] = {}
    for entry in story.entries():
        by_part = paid.setdefault(entry["member_id"], {"upfront": 0, "release": 0})
        by_part[entry["pays"]] += entry["amount"]
    assert fresh.paid == paid


def closed_months_never_change(story: Story) -> None:
    entries = story.entries()
    for month, when_closed in story.closed.items():
        assert [e for e in entries if e["period"] == month] == when_closed


def play(history: dict, *checks) -> None:
    with story_of(history) as story:
        for step in [*history["steps"], ("pay", Fraction(1), False), ("approve",)]:
            if step == ("approve",) and story.allocation.approved:
                continue
            take(story, step)
            for check in checks:
                check(story)
            closed_months_never_change(story)
        if story.deal.stage == "won":
            assert story.deal.cash == story.deal.amount


@SETTINGS
@given(histories())
def test_a_members_entries_always_sum_to_what_is_payable_to_them_now(history: dict) -> None:
    play(history, follows_the_rule)


@SETTINGS
@given(histories())
def test_once_paid_in_full_the_entries_over_all_months_sum_to_each_line(history: dict) -> None:
    play(history, paid_in_full_pays_the_lines)


@SETTINGS
@given(histories())
def test_lines_plus_unallocated_equal_the_pool_and_targets_follow_the_facts(history: dict) -> None:
    play(history, lines_and_unallocated_are_the_pool)


@SETTINGS
@given(histories())
def test_replaying_the_allocations_events_gives_the_same_targets_and_paid_totals(history: dict) -> None:
    play(history, replay_gives_the_same)

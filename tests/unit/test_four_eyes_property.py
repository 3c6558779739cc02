"""Four eyes (the README's "Four eyes") as a property: nobody decides alone a fact that raises
their own amount.

A hypothesis state machine plays random commands by random people through the Application in
memory, on a clock it moves: deals opened, corrected, regraded by a lead, staffed; contributions
recorded, confirmed, reversed; support requests opened, accepted, delivered, rated; deals won (at
the open amount or another, closed today or earlier) or lost; allocations approved; disputes
raised and resolved; late facts after the win; and, once the engine has them, asks a lead decides.
A command that is refused (DomainError) records nothing and is fine. After every command that
went through, the acting person's amount must not have gone up.

The cast: alice (sales), bob (presales), carol (delivery), dave (commercial) and erin (finance
department, a back-office supporter) act as members; lena and luke act as leads, and lena may be
seated on deals like anyone (a lead on a deal must not raise her own amount alone either); luke
is seated only where the engine lets someone seat him; fiona acts as finance. One currency (CNY);
an incentive policy with all four roles' shares and several kinds, without or with a member cap
(drawn); an opportunity grading policy whose amount bands give C, B and A, with pool rates 1 %,
2 % and 3 %.

A person's amount, in exact Fractions of minor units, summed over the deals:
- an open deal: their exact share (`allocate`'s line `exact`) if the deal were won today at its
  current amount, with the grade the win would use (the lead's override, or else the grade of the
  current amount by the opportunity grading policy in force today) and the incentive policy in
  force today;
- a won deal: the amount upheld for them in a dispute if the allocation has one, else their exact
  share of the split recomputed from the deal's facts now (amount, grade, close date, its
  contributions) by the allocation's own policy version;
- a lost or cancelled deal: 0.
Exact, before the member cap and the rounding, on purpose: an honest confirmation of a teammate's
work never raises anyone else's exact share, but it can move a rounding unit (largest remainders)
or part of a capped member's spread-out excess to the confirmer, which is arithmetic, not a
decision about one's own amount. (So the cap changes only what an upheld dispute competes with.)

Who acted alone: the actor of every command, members, leads and finance alike (finance, and a
lead who holds no seat and has no work on the deal, have nothing to gain, so the check costs
nothing there). Deciding an ask is checked the same way: the AR's amount may rise by a lead's
approval (two people), the deciding lead's own may not.

So that the game reaches the money: every run starts with a deal its AR opened and staffed, on
which some of the team may have confirmed work already; a rule does confirmed work (recorded,
then confirmed by the AR or a lead: two commands, each checked); each rule picks what it acts on
among the things it makes sense for (open deals, recorded contributions, accepted requests...),
and its actor mostly among those who may act (the AR, a lead, the addressee, the supporter),
sometimes anyone: a refusal is checked to record nothing. A failure prints the commands that
went through, in words, besides hypothesis's shrunk steps.
"""

from __future__ import annotations

import inspect
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from typing import Any
from uuid import UUID

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, precondition, rule

from domain.aggregates import Allocation, Opportunity, SupportRequest
from domain.allocation import CountedContribution, allocate
from domain.application import Actor, Goldsplit
from domain.exceptions import DomainError
from domain.money import format_amount
from domain.policy import IncentivePolicy
from tests.builders import register_team
from tests.ledger import FINANCE, Clock

START = datetime(2026, 3, 16, 12, 0, tzinfo=UTC)
CURRENCY = "CNY"
MEMBERS = {"alice": "sales", "bob": "presales", "carol": "delivery", "dave": "commercial",
           "erin": "finance"}
LEADS = {"lena": "sales", "luke": "management"}
PEOPLE = {**MEMBERS, **LEADS, "fiona": "finance"}
SEATABLE = (*MEMBERS, "lena")
KINDS = ("visit", "demo", "solution_design", "delivery_plan", "contract_review")
DEPARTMENTS = ("finance", "commercial", "delivery", "presales", "management")
AMOUNTS = ("800000.00", "1500000.00", "2900000.00", "3500000.00")  # grades C, B, B, A
FACTORS = (Fraction(1, 2), Fraction(9, 10), Fraction(1), Fraction(11, 10), Fraction(2))

INCENTIVE = {
    "name": "four-eyes", "effective_from": "2026-01-01",
    "pool_rate_by_grade": {"A": "0.03", "B": "0.02", "C": "0.01"},
    "role_shares": {"AR": "0.40", "SR": "0.30", "FR": "0.20", "SUPPORT": "0.10"},
    "kind_weights": {"visit": 1, "demo": 3, "solution_design": 5, "delivery_plan": 4,
                     "contract_review": 2, "support_delivered": 2},
    "member_cap": None, "holdback": "0.2",
}
GRADING = {
    "name": "four-eyes", "effective_from": "2026-01-01",
    "amount_bands": {CURRENCY: [{"from": "0", "grade": "C"}, {"from": "1000000.00", "grade": "B"},
                                {"from": "3000000.00", "grade": "A"}]},
    "strategic_attributes": {"new_logo": 1},
    "required_roles": {"A": ["AR", "SR", "FR"], "B": ["AR", "SR"], "C": ["AR"]},
}


def _takes(method: Any, name: str) -> bool:
    return name in inspect.signature(method).parameters


# The engine is gaining reasons on these and asks a lead decides: used only once they exist.
WIN_TAKES_REASON = _takes(Goldsplit.win, "reason")
CORRECT_TAKES_REASON = _takes(Goldsplit.correct_opportunity, "reason")
OPEN_TAKES_REASON = _takes(Goldsplit.open_opportunity, "reason")
HAS_ASKS = callable(getattr(Goldsplit, "ask", None)) and callable(getattr(Goldsplit, "decide_ask", None))

PICK = st.integers(0, 63)  # which of the eligible deals, contributions, requests... (modulo their number)
ANYONE = (*LEADS, *MEMBERS)
LEAD = st.sampled_from(tuple(LEADS))
# Who acts: a role on the thing acted on ("AR": the deal's AR, or luke when it has none), or a person.
WHO = st.sampled_from(("AR", "AR", "AR", *LEADS, *LEADS, *MEMBERS))
AR_MOSTLY = st.sampled_from(("AR",) * 6 + ANYONE)  # for what only the AR may want to do alone
WHEN = st.sampled_from(("today", "this month", "last month", "before work", "before work"))


def as_actor(member_id: str) -> Actor:
    """How a person acts: leads with their lead role, everyone else as a member."""
    return Actor(member_id, "lead" if member_id in LEADS else "member")


def one(items: list, pick: int) -> Any:
    return items[pick % len(items)]


def money(units: int) -> str:
    return format_amount(units, CURRENCY)


class FourEyes(RuleBasedStateMachine):
    """Random commands by random people; nobody's own amount goes up by their own lone command."""

    def __init__(self) -> None:
        super().__init__()
        self.clock = Clock(START)
        self.app = Goldsplit(env={"PERSISTENCE_MODULE": "eventsourcing.popo"}, clock=self.clock)
        register_team(self.app, PEOPLE)
        self.app.add_policy(FINANCE, "opportunity-grading", GRADING)
        self.deal_ids: list[str] = []
        self.request_ids: list[str] = []
        self.dispute_ids: list[tuple[str, str]] = []  # (opportunity id, dispute id)
        self.ask_ids: list[tuple[str, str, str]] = []  # (opportunity id, ask id, asker), undecided
        self.done: list[str] = []  # the commands that went through, in words, for a failure
        self.loaded: dict[UUID, Any] = {}  # aggregates read since the log last moved
        self.standing: dict[str, Fraction] | None = None  # the amounts since the log last moved

    def teardown(self) -> None:
        self.app.close()

    # -- the amounts ----------------------------------------------------------------------------

    @property
    def today(self) -> date:
        return self.clock.now.date()

    def amounts(self) -> dict[str, Fraction]:
        """Each person's amount over every deal (see the module's docstring)."""
        if self.standing is not None:
            return self.standing
        totals: dict[str, Fraction] = defaultdict(Fraction)
        today = self.today
        for oid in self.deal_ids:
            opportunity = self.deal(oid)
            counted = [CountedContribution.from_record(c) for c in opportunity.contributions.values()]
            overrides: dict[str, int] = {}
            if opportunity.stage == "open":
                grade = opportunity.grade if opportunity.grade_overridden else self.app.policy_in_force(
                    "opportunity-grading", today).grade(
                        opportunity.amount, opportunity.currency, opportunity.attributes).grade
                result = allocate(amount=opportunity.amount, grade=grade, closed_on=today,
                                  contributions=counted,
                                  policy=self.app.incentive_policy_in_force(today))
            elif opportunity.stage == "won":
                allocation = self.allocation(oid)
                overrides = dict(allocation.overrides)
                result = allocate(amount=opportunity.amount, grade=opportunity.grade,
                                  closed_on=date.fromisoformat(opportunity.closed_on),
                                  contributions=counted,
                                  policy=IncentivePolicy.from_stored(allocation.policy))
            else:  # lost or cancelled
                continue
            for line in result.lines:
                if line.member_id not in overrides:
                    totals[line.member_id] += line.exact
            for member_id, amount in overrides.items():
                totals[member_id] += amount
        self.standing = dict(totals)
        return self.standing

    def head(self) -> int:
        return self.app.recorder.max_notification_id() or 0

    def run(self, what: str, actor: Actor, command: Any, *, alone: bool = True) -> Any:
        """Run a command; if it went through and `actor` decided it alone, their amount must not
        have gone up. A refusal records nothing and answers None."""
        before, head = self.amounts(), self.head()
        try:
            answer = command()
        except DomainError as refusal:
            assert self.head() == head, f"refused ({refusal}) but recorded: {actor} {what}"
            return None
        self.done.append(f"{actor.member_id} ({actor.role}) {what}")
        if self.head() == head:
            return answer  # went through, changed nothing
        self.loaded.clear()
        self.standing = None
        after = self.amounts()
        if alone:
            mine_before, mine_after = before.get(actor.member_id, 0), after.get(actor.member_id, 0)
            assert mine_after <= mine_before, (
                f"{actor.member_id} ({actor.role}) raised their own amount alone: {what}\n"
                f"  before {float(mine_before):,.2f}, after {float(mine_after):,.2f} minor units "
                f"(exactly {mine_before} -> {mine_after})\n"
                "  the commands that went through:\n    " + "\n    ".join(self.done))
        return answer

    # -- reading the state ----------------------------------------------------------------------

    def get(self, aggregate_id: UUID) -> Any:
        if aggregate_id not in self.loaded:
            self.loaded[aggregate_id] = self.app.repository.get(aggregate_id)
        return self.loaded[aggregate_id]

    def deal(self, oid: str) -> Opportunity:
        return self.get(UUID(oid))

    def label(self, oid: str) -> str:
        return f"deal {self.deal_ids.index(oid)}"

    def deals_in(self, *stages: str) -> list[str]:
        return [oid for oid in self.deal_ids if self.deal(oid).stage in stages]

    def worked_deals(self) -> list[str]:
        """Open deals with confirmed work, or every open deal when none has any."""
        deals = self.deals_in("open")
        worked = [oid for oid in deals if any(c["status"] == "confirmed"
                                                 for c in self.deal(oid).contributions.values())]
        return worked or deals

    def contributions_in(self, statuses: tuple[str, ...], stages: tuple[str, ...]) -> list[tuple[str, str]]:
        return [(oid, cid) for oid in self.deals_in(*stages)
                for cid, c in self.deal(oid).contributions.items() if c["status"] in statuses]  # log order

    def on_deal(self, oid: str) -> list[str]:
        """Who is on the deal: the AR, SR and FR, then the supporters."""
        deal = self.deal(oid)
        return list(dict.fromkeys([*(m for m in deal.triangle.values() if m), *deal.supporters]))

    def request(self, rid: str) -> SupportRequest:
        return self.get(UUID(rid))

    def requests_in(self, *statuses: str) -> list[str]:
        return [rid for rid in self.request_ids if self.request(rid).status in statuses]

    def allocation(self, oid: str) -> Allocation:
        return self.get(Allocation.create_id(UUID(oid)))

    def unapproved(self) -> list[str]:
        return [oid for oid in self.deals_in("won") if not self.allocation(oid).approved]

    def with_lines(self) -> list[str]:
        return [oid for oid in self.deals_in("won") if self.allocation(oid).targets]

    def open_disputes(self) -> list[tuple[str, str]]:
        return [(oid, did) for oid, did in self.dispute_ids if self.get(UUID(did)).status == "open"]

    def actor_on(self, oid: str, who: str) -> Actor:
        """`who` as an actor: the deal's AR (luke, a lead with no stake, when it has none) or a person."""
        if who == "AR":
            return as_actor(self.deal(oid).triangle["AR"] or "luke")
        return as_actor(who)

    # -- deals ----------------------------------------------------------------------------------

    @initialize(cap=st.sampled_from((None, "0.35")))
    def incentive_policy(self, cap: str | None) -> None:
        self.run(f"posts the incentive policy, member cap {cap}", FINANCE,
                 lambda: self.app.add_policy(FINANCE, "incentive", {**INCENTIVE, "member_cap": cap}))

    def open(self, actor: Actor, amount: str, grade: str | None) -> str | None:
        extra: dict[str, Any] = {"reason": "new deal"} if OPEN_TAKES_REASON else {}
        if grade is not None:
            extra["grade"] = grade
        recorded = self.run(
            f"opens a deal of {amount} {CURRENCY}" + (f", grade {grade}" if grade else ""), actor,
            lambda: self.app.open_opportunity(
                actor, account_id="acme", name="Acme deal", amount=amount, currency=CURRENCY,
                expected_close="2026-06-30", **extra))
        if recorded is None:
            return None
        self.deal_ids.append(recorded.id)
        self.done[-1] += f": {self.label(recorded.id)}"
        return recorded.id

    @initialize(team=st.permutations(SEATABLE), amount=st.sampled_from(AMOUNTS),
                worked=st.lists(st.none() | st.sampled_from((0, 5, 12, 25, 40)), min_size=4, max_size=4))
    def staffed_deal(self, team: list[str], amount: str, worked: list[int | None]) -> None:
        """A deal its AR (a member) opens and staffs with an SR, an FR and a supporter (lena, a
        lead, may be one of them), each of whom may have done a piece of confirmed work some days
        ago (every step checked as any), so that the game starts where the money is."""
        ar = next(m for m in team if m in MEMBERS)
        sr, fr, supporter = [m for m in team if m != ar][:3]
        actor = as_actor(ar)
        oid = self.open(actor, amount, None)
        if oid is None:
            return
        for role, member in (("SR", sr), ("FR", fr)):
            self.run(f"seats {member} as {role} on {self.label(oid)}", actor,
                     lambda role=role, member=member: self.app.assign_triangle_role(
                         actor, oid, role, member))
        self.run(f"adds {supporter} as a supporter of {self.label(oid)}", actor,
                 lambda: self.app.add_supporter(actor, oid, supporter))
        for member, kind, days_ago in zip((ar, sr, fr, supporter), KINDS[:4], worked, strict=True):
            if days_ago is not None:
                self.work(oid, member, kind, days_ago, "luke")

    def work(self, oid: str, member_id: str, kind: str, days_ago: int, lead: str) -> None:
        """`member_id` records a piece of their work; the AR confirms it (a lead the AR's own)."""
        occurred = self.clock.now - timedelta(days=days_ago)
        author = as_actor(member_id)
        recorded = self.run(
            f"records a {kind} of {member_id} on {occurred.date()} on {self.label(oid)}", author,
            lambda: self.app.record_contribution(author, oid, member_id=member_id, kind=kind,
                                                 summary=kind, occurred_at=occurred.isoformat()))
        if recorded is None:
            return
        cid = recorded.id
        self.done[-1] += f": contribution {cid[:8]}"
        ar = self.deal(oid).triangle["AR"]
        checker = as_actor(lead if ar in (None, member_id) else ar)
        self.run(f"confirms {member_id}'s contribution {cid[:8]} on {self.label(oid)}", checker,
                 lambda: self.app.confirm_contribution(checker, oid, cid))

    @precondition(lambda self: self.deals_in("open"))
    @rule(pick=PICK, member=PICK, kind=st.sampled_from(KINDS), days_ago=st.integers(0, 59), lead=LEAD)
    def confirmed_work(self, pick: int, member: int, kind: str, days_ago: int, lead: str) -> None:
        """Someone on a deal does a piece of work that gets confirmed (two commands, each checked)."""
        oid = one(self.deals_in("open"), pick)
        team = self.on_deal(oid)
        if team:
            self.work(oid, one(team, member), kind, days_ago, lead)

    @precondition(lambda self: len(self.deals_in("open")) < 3 and len(self.deal_ids) < 8)
    @rule(who=st.sampled_from(ANYONE), amount=st.sampled_from(AMOUNTS),
          grade=st.sampled_from((None, None, "A", "B", "C")))
    def open_deal(self, who: str, amount: str, grade: str | None) -> None:
        self.open(as_actor(who), amount, grade if who in LEADS else None)

    @precondition(lambda self: self.deals_in("open", "won"))
    @rule(pick=PICK, who=WHO, amount=st.sampled_from(AMOUNTS) | st.sampled_from(FACTORS))
    def correct_amount(self, pick: int, who: str, amount: str | Fraction) -> None:
        oid = one(self.deals_in("open", "won"), pick)
        actor, deal = self.actor_on(oid, who), self.deal(oid)
        if isinstance(amount, Fraction):
            amount = money(int(deal.amount * amount))
        extra = {"reason": "customer changed scope"} if CORRECT_TAKES_REASON else {}
        self.run(f"corrects the amount of {self.label(oid)} ({deal.stage}) from {money(deal.amount)} "
                 f"to {amount}", actor,
                 lambda: self.app.correct_opportunity(actor, oid, amount=amount, **extra))

    @precondition(lambda self: self.deals_in("open"))
    @rule(pick=PICK, lead=LEAD, grade=st.sampled_from(("A", "B", "C")))
    def override_grade(self, pick: int, lead: str, grade: str) -> None:
        oid, actor = one(self.deals_in("open"), pick), as_actor(lead)
        extra = {"reason": "strategic account"} if CORRECT_TAKES_REASON else {}
        self.run(f"overrides the grade of {self.label(oid)} from {self.deal(oid).grade} to {grade}",
                 actor, lambda: self.app.correct_opportunity(actor, oid, grade=grade, **extra))

    @precondition(lambda self: self.deals_in("open"))
    @rule(pick=PICK, who=WHO, role=st.sampled_from(("AR", "SR", "SR", "FR", "FR")),
          member=st.sampled_from(SEATABLE))
    def seat(self, pick: int, who: str, role: str, member: str) -> None:
        oid = one(self.deals_in("open"), pick)
        actor = self.actor_on(oid, who)
        self.run(f"seats {member} as {role} on {self.label(oid)}", actor,
                 lambda: self.app.assign_triangle_role(actor, oid, role, member))

    @precondition(lambda self: self.deals_in("open"))
    @rule(pick=PICK, who=WHO, member=st.sampled_from(SEATABLE))
    def add_supporter(self, pick: int, who: str, member: str) -> None:
        oid = one(self.deals_in("open"), pick)
        actor = self.actor_on(oid, who)
        self.run(f"adds {member} as a supporter of {self.label(oid)}", actor,
                 lambda: self.app.add_supporter(actor, oid, member))

    # -- contributions --------------------------------------------------------------------------

    @precondition(lambda self: self.deals_in("open"))
    @rule(pick=PICK, who=st.sampled_from(("self", "self", "self", "self", "self", *ANYONE)), member=PICK,
          kind=st.sampled_from(KINDS), days_ago=st.integers(0, 59))
    def record(self, pick: int, who: str, member: int, kind: str, days_ago: int) -> None:
        """Someone on the deal records their own work, or someone records it for them."""
        oid = one(self.deals_in("open"), pick)
        member_id = one(self.on_deal(oid) or list(SEATABLE), member)
        actor = as_actor(member_id if who == "self" else who)
        occurred = self.clock.now - timedelta(days=days_ago)
        recorded = self.run(
            f"records a {kind} of {member_id} on {occurred.date()} on {self.label(oid)}", actor,
            lambda: self.app.record_contribution(actor, oid, member_id=member_id, kind=kind,
                                                 summary=kind, occurred_at=occurred.isoformat()))
        if recorded is not None:
            self.done[-1] += f": contribution {recorded.id[:8]}"

    @precondition(lambda self: self.contributions_in(("recorded",), ("open",)))
    @rule(pick=PICK, who=WHO)
    def confirm(self, pick: int, who: str) -> None:
        oid, cid = one(self.contributions_in(("recorded",), ("open",)), pick)
        actor = self.actor_on(oid, who)
        author = self.deal(oid).contributions[cid]["member_id"]
        self.run(f"confirms {author}'s contribution {cid[:8]} on {self.label(oid)}", actor,
                 lambda: self.app.confirm_contribution(actor, oid, cid))

    @precondition(lambda self: self.contributions_in(("recorded", "confirmed"), ("open", "won")))
    @rule(pick=PICK, who=WHO)
    def reverse(self, pick: int, who: str) -> None:
        """The AR or a lead (or anyone) reverses work, before or after the win."""
        oid, cid = one(self.contributions_in(("recorded", "confirmed"), ("open", "won")), pick)
        actor, deal = self.actor_on(oid, who), self.deal(oid)
        record = deal.contributions[cid]
        self.run(f"reverses {record['member_id']}'s {record['status']} contribution {cid[:8]} on "
                 f"{self.label(oid)} ({deal.stage})", actor,
                 lambda: self.app.reverse_contribution(actor, oid, cid, "a duplicate"))

    # -- support requests -----------------------------------------------------------------------

    @precondition(lambda self: self.deals_in("open"))
    @rule(pick=PICK, who=st.sampled_from(("AR", "team", "team", *ANYONE)), member=PICK,
          to_member=st.sampled_from(SEATABLE) | st.none(), to_department=st.sampled_from(DEPARTMENTS))
    def open_request(self, pick: int, who: str, member: int, to_member: str | None,
                     to_department: str) -> None:
        oid = one(self.deals_in("open"), pick)
        team = self.on_deal(oid)
        actor = as_actor(one(team, member)) if who == "team" and team else self.actor_on(
            oid, "AR" if who == "team" else who)
        to = {"to_member": to_member} if to_member else {"to_department": to_department}
        recorded = self.run(
            f"asks {to_member or to_department} for help on {self.label(oid)}", actor,
            lambda: self.app.open_request(actor, oid, kind="review", summary="please help",
                                          due=(self.today + timedelta(days=14)).isoformat(), **to))
        if recorded is not None:
            self.request_ids.append(recorded.id)
            self.done[-1] += f": request {recorded.id[:8]}"

    @precondition(lambda self: self.requests_in("open"))
    @rule(pick=PICK, who=st.sampled_from(("addressed", "addressed", "addressed", *ANYONE)),
          member=st.sampled_from(ANYONE))
    def accept(self, pick: int, who: str, member: str) -> None:
        """The addressee (a member of the addressed department) accepts, or a lead for someone."""
        rid = one(self.requests_in("open"), pick)
        request = self.request(rid)
        actor = as_actor((request.to_member or member) if who == "addressed" else who)
        member_id = None
        if actor.leads:  # for the addressee, or for themselves, or for a member of the department
            member_id = request.to_member or (actor.member_id if who == "addressed" else member)
        self.run(f"accepts request {rid[:8]} (to {request.to_member or request.to_department})"
                 + (f" for {member_id}" if member_id else ""), actor,
                 lambda: self.app.accept_request(actor, rid, member_id))

    @precondition(lambda self: self.requests_in("accepted"))
    @rule(pick=PICK, who=st.sampled_from(("supporter", "supporter", "supporter", *ANYONE)))
    def deliver(self, pick: int, who: str) -> None:
        rid = one(self.requests_in("accepted"), pick)
        supporter = self.request(rid).supporter
        actor = as_actor(supporter if who == "supporter" else who)
        self.run(f"delivers request {rid[:8]} (supporter {supporter})", actor,
                 lambda: self.app.deliver_request(actor, rid, summary="done", hours="3"))

    @precondition(lambda self: self.requests_in("delivered"))
    @rule(pick=PICK, score=st.integers(1, 5))
    def rate(self, pick: int, score: int) -> None:
        rid = one(self.requests_in("delivered"), pick)
        actor = as_actor(self.request(rid).requested_by)
        self.run(f"rates request {rid[:8]} {score}", actor,
                 lambda: self.app.rate_request(actor, rid, score))

    # -- the outcome ----------------------------------------------------------------------------

    def close_date(self, oid: str, when: str, pick: int) -> date:
        today = self.today
        if when == "this month":
            return today.replace(day=max(1, today.day // 2))
        if when == "last month":
            return (today.replace(day=1) - timedelta(days=1)).replace(day=15)
        if when == "before work":  # the day before some confirmed work, the latest first
            worked = sorted({datetime.fromisoformat(c["occurred_at"]).date()
                             for c in self.deal(oid).contributions.values()
                             if c["status"] == "confirmed"}, reverse=True)
            if worked:
                return one(worked, pick) - timedelta(days=1)
        return today

    @precondition(lambda self: self.deals_in("open"))
    @rule(pick=PICK, who=AR_MOSTLY, factor=st.sampled_from((None, *FACTORS)), when=WHEN, work=PICK)
    def win(self, pick: int, who: str, factor: Fraction | None, when: str, work: int) -> None:
        """Win a deal (one with confirmed work when there is one) at its amount or another."""
        oid = one(self.worked_deals(), pick)
        actor, deal = self.actor_on(oid, who), self.deal(oid)
        closed_on = self.close_date(oid, when, work).isoformat()
        amount = None if factor is None else money(int(deal.amount * factor))
        extra: dict[str, Any] = {"reason": "signed"} if WIN_TAKES_REASON else {}
        if amount is not None:
            extra["amount"] = amount
        self.run(f"wins {self.label(oid)} (open at {money(deal.amount)}) at {amount or 'that amount'}, "
                 f"closed on {closed_on} ({when})", actor,
                 lambda: self.app.win(actor, oid, closed_on=closed_on, **extra))

    @precondition(lambda self: self.deals_in("open"))
    @rule(pick=PICK, who=WHO, really=st.integers(0, 3))
    def lose(self, pick: int, who: str, really: int) -> None:
        if really:  # now and then: a lost deal leaves the game
            return
        oid = one(self.deals_in("open"), pick)
        actor = self.actor_on(oid, who)
        self.run(f"loses {self.label(oid)}", actor,
                 lambda: self.app.lose(actor, oid, reason="price", closed_on=self.today.isoformat()))

    # -- the money ------------------------------------------------------------------------------

    @precondition(lambda self: self.unapproved())
    @rule(pick=PICK)
    def approve(self, pick: int) -> None:
        oid = one(self.unapproved(), pick)
        allocation_id = str(Allocation.create_id(UUID(oid)))
        self.run(f"approves the allocation of {self.label(oid)}", FINANCE,
                 lambda: self.app.approve_allocation(FINANCE, allocation_id))

    @precondition(lambda self: self.with_lines())
    @rule(pick=PICK, member=PICK)
    def raise_dispute(self, pick: int, member: int) -> None:
        oid = one(self.with_lines(), pick)
        member_id = one(sorted(self.allocation(oid).targets), member)
        actor = as_actor(member_id)
        allocation_id = str(Allocation.create_id(UUID(oid)))
        recorded = self.run(f"disputes their line of {self.label(oid)}", actor,
                            lambda: self.app.raise_dispute(actor, allocation_id, member_id=member_id,
                                                           reason="I did more"))
        if recorded is not None:
            self.dispute_ids.append((oid, recorded.id))

    @precondition(lambda self: self.open_disputes())
    @rule(pick=PICK, uphold=st.booleans(),
          part=st.fractions(min_value=0, max_value=1, max_denominator=20))
    def resolve(self, pick: int, uphold: bool, part: Fraction) -> None:
        oid, did = one(self.open_disputes(), pick)
        corrected = money(int(self.allocation(oid).pool * part))
        self.run(f"resolves dispute {did[:8]} on {self.label(oid)}: "
                 + (f"upheld at {corrected}" if uphold else "rejected"), FINANCE,
                 lambda: self.app.resolve_dispute(
                     FINANCE, did, decision="uphold" if uphold else "reject", reason="checked",
                     corrected_amount=corrected if uphold else None))

    # -- the asks a lead decides (once the engine has them) ------------------------------------

    @precondition(lambda self: HAS_ASKS and self.deals_in("open", "won"))
    @rule(pick=PICK, who=AR_MOSTLY, action=st.sampled_from(("win", "reverse", "correct")),
          factor=st.sampled_from(FACTORS), when=WHEN, work=PICK)
    def ask(self, pick: int, who: str, action: str, factor: Fraction, when: str, work: int) -> None:
        oid = one(self.deals_in("open", "won"), pick)
        actor, deal = self.actor_on(oid, who), self.deal(oid)
        arguments: dict[str, Any] = {}
        if action in ("win", "correct"):
            arguments["amount"] = money(int(deal.amount * factor))
        if action == "win":
            arguments["closed_on"] = self.close_date(oid, when, work).isoformat()
        if action == "reverse":
            if not deal.contributions:
                return
            arguments["contribution_id"] = one(list(deal.contributions), work)  # log order (ids are random)
        recorded = self.run(f"asks a lead to {action} {self.label(oid)}: {arguments}", actor,
                            lambda: self.app.ask(actor, oid, action=action, reason="please",
                                                 **arguments))
        if recorded is not None:
            self.ask_ids.append((oid, recorded.id, actor.member_id))

    @precondition(lambda self: HAS_ASKS and self.ask_ids)
    @rule(pick=PICK, lead=LEAD, decision=st.sampled_from(("approve", "approve", "reject")))
    def decide_ask(self, pick: int, lead: str, decision: str) -> None:
        asked = one(self.ask_ids, pick)
        (oid, ask_id, asker), actor = asked, as_actor(lead)
        decided = self.run(
            f"decides {asker}'s ask {ask_id[:8]} on {self.label(oid)}: {decision}", actor,
            lambda: self.app.decide_ask(actor, ask_id, decision=decision, reason="looked at it"))
        if decided is not None:
            self.ask_ids.remove(asked)

    # -- time -----------------------------------------------------------------------------------

    @rule(days=st.integers(1, 6))
    def days_pass(self, days: int) -> None:
        self.clock.advance(days=days)
        self.standing = None  # an open deal's amount is as if won today
        self.done.append(f"{days} days pass (today {self.today})")


FourEyes.TestCase.settings = settings(
    max_examples=150, stateful_step_count=30, deadline=None,
    phases=[p for p in Phase if p is not Phase.explain],  # explaining a 30-step failure takes minutes
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                           HealthCheck.data_too_large])
TestFourEyes = FourEyes.TestCase

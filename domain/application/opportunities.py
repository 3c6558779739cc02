"""Use cases of an opportunity: open, correct, grade, staff, win or lose it, and asks for a lead's call."""

from __future__ import annotations

from datetime import date
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from domain import values
from domain.aggregates import (
    Allocation,
    Ask,
    Opportunity,
)
from domain.application.access import MAY, Actor, lead_reason
from domain.application.accounts import merge_attributes
from domain.application.results import Graded, Recorded, Upserted, Won
from domain.exceptions import (
    AskNotFound,
    InvalidInput,
    NotAllowed,
    OpportunityAlreadyExists,
)
from domain.grading import Grading
from domain.money import parse_amount
from domain.payables import (
    month_of,
    split,
)
from domain.policy import GRADES

WON_STAGES = ("won", "closed_won", "closed won")  # a CRM's words for a won or a lost deal
LOST_STAGES = ("lost", "closed_lost", "closed lost")


class Opportunities:
    """Use cases of an opportunity: open, correct, grade, staff, win or lose it, and asks for a lead's call."""

    def open_opportunity(self, actor: Actor, *, account_id: str, name: str, amount: object,
                         currency: str, expected_close: str, grade: str | None = None,
                         attributes: dict | None = None, reason: str | None = None,
                         opportunity_id: UUID | None = None, upsert: dict | None = None) -> Recorded:
        """Open an opportunity on an account; a member who opens it takes its AR seat.

        The opportunity grading policy in force gives the grade and the triangle roles it
        requires; a lead may set the grade instead, with a `reason` (the override stands through
        corrections and the win).
        """
        if grade is not None and not actor.leads:
            raise NotAllowed("only a lead overrides the grade; leave grade out and the opportunity "
                             "grading policy gives it", field="grade")
        if not actor.leads:
            self._member(actor.member_id, "member_id")
        if grade is not None and grade not in GRADES:
            raise InvalidInput(f"{grade!r} is not a grade; use one of {list(GRADES)}", field="grade")
        why = lead_reason(reason) if grade is not None else None
        if grade is not None and why is None:
            raise InvalidInput("a grade override sets the pool rate: say why", field="reason")
        minor = parse_amount(amount, currency)
        attributes = values.attributes(attributes)
        self._require_lead_for_strategic(actor, attributes)
        grading = self._opportunity_grading(minor, currency, attributes, override=grade,
                                            actor=actor, reason=why)
        opportunity = Opportunity(
            account_id=values.text(account_id, "account_id", limit=200, single_line=True),
            name=values.text(name, "name", limit=200, single_line=True),
            amount=minor,
            currency=currency,
            expected_close=values.iso_date(expected_close, "expected_close").isoformat(),
            grade=grading.grade,
            attributes=attributes,
            actor=actor.member_id,
            **({"id": opportunity_id} if opportunity_id else {}),
        )
        opportunity.grade_by(grading, actor.member_id, overridden=grade is not None)
        if not actor.leads:
            opportunity.assign_role("AR", actor.member_id, actor.member_id)
        if upsert is not None:
            opportunity.note_upsert(upsert)
        try:
            return self._saved(Graded(str(opportunity.id), grade=grading.grade), opportunity)
        except IntegrityError:
            raise OpportunityAlreadyExists(f"opportunity {opportunity.id} exists already") from None

    def correct_opportunity(self, actor: Actor, opportunity_id: str, *, amount: object = None,
                            expected_close: str | None = None, attributes: dict | None = None,
                            grade: str | None = None, release_grade: bool = False,
                            reason: str | None = None) -> Recorded:
        """Correct an open deal's amount, expected close or attributes; the grade follows the policy.

        Attributes merge into the ones it has (a null removes one). A lead may set the grade, or
        release an override back to the policy's grade, with a `reason`. Raising an open deal's
        amount, and any correction of a won one, is a lead's call.
        """
        if (grade is not None or release_grade) and not actor.leads:
            raise NotAllowed("only a lead overrides the grade", field="grade")
        if grade is not None and grade not in GRADES:
            raise InvalidInput(f"{grade!r} is not a grade; use one of {list(GRADES)}", field="grade")
        why = lead_reason(reason)
        close = None if expected_close is None else values.iso_date(
            expected_close, "expected_close").isoformat()
        changes = None if attributes is None else values.attributes(attributes)
        self._require_lead_for_strategic(actor, changes or {})

        def decide(opportunity: Opportunity) -> list[Aggregate] | None:
            self._require_ar_or_lead(opportunity, actor, "correct it")
            if grade is not None or release_grade:
                opportunity.require_open("change its grade")
                self._require_lead_call(opportunity, actor, ["grade_override"], "grade", why)
            self._require_lead_for_strategic(actor, changes or {}, opportunity)
            minor = None if amount is None else parse_amount(amount, opportunity.currency)
            return self._corrected(opportunity, actor, minor, close, changes, why, grade, release_grade)

        return self._change(opportunity_id, decide, actor, lambda o: Graded(str(o.id), grade=o.grade))

    def _corrected(self, opportunity: Opportunity, actor: Actor, minor: int | None, close: str | None,
                   changes: dict | None, reason: str | None, grade: str | None = None,
                   release_grade: bool = False) -> list[Aggregate] | None:
        """Correct the deal as decided (by its AR, a lead, or a lead approving an ask)."""
        if opportunity.stage != "won" or close is not None or changes is not None:
            opportunity.require_open("correct it")  # of a won deal, only its amount
        merged = None if changes is None else merge_attributes(opportunity.attributes, changes)
        amount_before, version_before = opportunity.amount, opportunity.version
        opportunity.correct(amount=minor, expected_close=close, attributes=merged,
                            actor=actor.member_id, reason=reason)
        if opportunity.stage == "won":
            self._require_lead_after_win(opportunity, actor, "correct its amount")
            self._require_lead_call(opportunity, actor, ["won_amount"], "amount", reason)
            if opportunity.version == version_before:
                return None
            self._grade_won(opportunity, actor, date.fromisoformat(opportunity.closed_on))
            return self._follow_late_fact(
                opportunity, f"correction:{opportunity.version}",
                f"deal amount corrected to {opportunity.amount} minor units: {reason}", actor)
        if opportunity.amount > amount_before:
            self._require_lead_call(opportunity, actor, ["amount_raised"], "amount", reason)
        self._regrade_open(opportunity, actor, grade, release_grade, reason)
        return None

    def assign_triangle_role(self, actor: Actor, opportunity_id: str, role: str,
                             member_id: str) -> Recorded:
        """Put a member in the AR, SR or FR seat; the earlier holder stays in the history."""
        self._member(member_id, "member_id")

        def decide(opportunity: Opportunity) -> None:
            self._require_ar_or_lead(opportunity, actor, "change the triangle")
            self._require_one_seat(opportunity, actor, member_id, keeping=role)
            opportunity.assign_role(role, member_id, actor.member_id)

        return self._change(opportunity_id, decide, actor)

    def add_supporter(self, actor: Actor, opportunity_id: str, member_id: str) -> Recorded:
        """Add a back-office member who works on the opportunity outside the triangle."""
        self._member(member_id, "member_id")

        def decide(opportunity: Opportunity) -> None:
            self._require_ar_or_lead(opportunity, actor, "add supporters")
            self._require_one_seat(opportunity, actor, member_id, keeping="SUPPORT")
            opportunity.add_supporter(member_id, actor.member_id)

        return self._change(opportunity_id, decide, actor)

    def win(self, actor: Actor, opportunity_id: str, *, closed_on: str,
            amount: object = None, reason: str | None = None) -> Recorded:
        """Win the deal and propose its allocation by the incentive policy in force on the close
        date, at the pool rate of the won amount's grade. A win above the open amount or dated
        back (to an earlier month, before confirmed work, or under other policies) is a lead's
        call, with a `reason`."""
        closed = values.iso_date(closed_on, "closed_on")
        why = lead_reason(reason)

        def decide(opportunity: Opportunity) -> list[Allocation]:
            self._require_ar_or_lead(opportunity, actor, "win it")
            minor = (opportunity.amount if amount is None
                     else parse_amount(amount, opportunity.currency))
            return self._won(opportunity, actor, minor, closed, why)

        return self._change(opportunity_id, decide, actor, lambda o: Won(
            str(o.id), allocation_id=str(Allocation.create_id(o.id))))

    def _won(self, opportunity: Opportunity, actor: Actor, minor: int, closed: date,
             reason: str | None, checked: bool = True) -> list[Allocation]:
        """Win the deal at `minor` on `closed` and propose its split (`checked`: as a member or a
        lead decides it; a CRM's stage is the system's fact, not a person's call)."""
        opportunity.require_open("win it")
        today = self.clock().date()
        calls = self._win_calls(opportunity, minor, closed, today) if checked else []
        self._require_lead_call(opportunity, actor, calls,
                                "amount" if calls[:1] == ["above_open_amount"] else "closed_on", reason)
        policy = self.incentive_policy_in_force(closed)
        opportunity.win(minor, closed, actor.member_id, today=today, at=self.clock().isoformat(),
                        reason=reason if calls else None, lead_call=calls)
        if not opportunity.grade_overridden:
            self._grade_won(opportunity, actor, closed)
        return [Allocation(opportunity_id=opportunity.id, currency=opportunity.currency,
                           result=split(opportunity, policy), policy=policy.as_dict(),
                           actor=actor.member_id)]

    def _win_calls(self, opportunity: Opportunity, minor: int, closed: date, today: date) -> list[str]:
        """Why winning this way would be a lead's call (empty: the AR may do it)."""
        calls = []
        if minor > opportunity.amount:
            calls.append("above_open_amount")
        if month_of(closed) < month_of(today):  # a later one is refused as in the future
            calls.append("earlier_month")
        if opportunity.confirmed_after(closed):
            calls.append("before_confirmed_work")
        if closed < today and any(
                self.policy_in_force(kind, closed).reference()
                != self.policy_in_force(kind, today).reference()
                for kind in ("incentive", "opportunity-grading")):
            calls.append("other_policy")
        return calls

    def ask(self, actor: Actor, opportunity_id: str, *, action: str, reason: str, amount: object = None,
            closed_on: str | None = None, contribution_id: str | None = None,
            ask_id: UUID | None = None) -> Recorded:
        """The AR asks a lead to make a lead's call: to win above the open amount or dated back
        (`win`), to raise the open amount (`correct`), or to reverse someone else's confirmed
        work (`reverse`). Nothing changes until a lead approves it."""
        reason = values.text(reason, "reason")
        if action not in Ask.ACTIONS:
            raise InvalidInput(f"{str(action)[:20]!r} is not an action to ask for; use one of "
                               f"{list(Ask.ACTIONS)}", field="action")
        closed = None if closed_on is None else values.iso_date(closed_on, "closed_on")
        if action == "win" and closed is None:
            raise InvalidInput("a win needs its close date", field="closed_on")
        if closed is not None and closed > self.clock().date():
            raise InvalidInput("is in the future", field="closed_on")
        if action == "correct" and amount is None:
            raise InvalidInput("a correction asks for the new amount", field="amount")
        if action == "reverse":
            contribution_id = values.text(contribution_id, "contribution_id", limit=64)
        aid = ask_id or uuid4()

        def decide(opportunity: Opportunity) -> list[Aggregate]:
            if aid in self.repository:  # the same ask sent again
                return []
            if opportunity.triangle["AR"] != actor.member_id:
                raise NotAllowed("only the AR of this opportunity asks a lead for a call on it")
            minor = None if amount is None else parse_amount(amount, opportunity.currency)
            if action == "win":
                opportunity.require_open("win it")
                arguments = {"amount": minor if minor is not None else opportunity.amount,
                             "closed_on": closed.isoformat()}
                calls = self._win_calls(opportunity, arguments["amount"], closed, self.clock().date())
            elif action == "correct":
                opportunity.require_open("correct its amount before the win")
                arguments = {"amount": minor}
                calls = ["amount_raised"] if minor > opportunity.amount else []
            else:
                contribution = opportunity.contribution(contribution_id)
                arguments = {"contribution_id": contribution_id}
                calls = ["reverse_confirmed"] if contribution["status"] == "confirmed" and \
                    contribution["member_id"] != actor.member_id else []
            if not calls:
                raise InvalidInput("this is not a lead's call: the AR does it directly", field="action")
            return [Ask(opportunity_id=opportunity.id, action=action, arguments=arguments,
                        reason=reason, calls=calls, actor=actor.member_id,
                        at=self.clock().isoformat(), id=aid)]

        return self._change(opportunity_id, decide, actor, lambda _: Recorded(str(aid)))

    def decide_ask(self, actor: Actor, ask_id: str, *, decision: str, reason: str) -> Recorded:
        """A lead with no stake in the deal approves an ask (and so makes the call, with their
        reason) or rejects it."""
        reason = values.text(reason, "reason")
        if decision not in ("approve", "reject"):
            raise InvalidInput(f"{str(decision)[:20]!r} is not a decision; use approve or reject",
                               field="decision")
        ask = self._ask(ask_id)
        self._require_seen(ask, ask.opportunity_id, actor, AskNotFound, "ask_id", ask_id)
        if not actor.leads:
            raise NotAllowed("only a lead decides what an AR asks")
        if actor.member_id == ask.asked_by:
            raise NotAllowed("nobody decides their own ask: another lead does")

        def decide(opportunity: Opportunity) -> list[Aggregate]:
            fresh = self._ask(ask.id)
            at = self.clock().isoformat()
            if decision == "reject":
                fresh.reject(reason, actor.member_id, at=at)
                return [fresh]
            self._require_lead_call(opportunity, actor, fresh.calls, "decision", reason)
            fresh.approve(reason, actor.member_id, at=at)
            arguments = fresh.arguments
            if fresh.action == "win":
                done = self._won(opportunity, actor, arguments["amount"],
                                 date.fromisoformat(arguments["closed_on"]), reason)
            elif fresh.action == "correct":
                done = self._corrected(opportunity, actor, arguments["amount"], None, None, reason) or []
            else:
                done = self._reversed(opportunity, actor, arguments["contribution_id"], reason)
            return [fresh, *done]

        return self._change(str(ask.opportunity_id), decide, answer=lambda _: Recorded(str(ask.id)))

    def lose(self, actor: Actor, opportunity_id: str, *, reason: str, closed_on: str) -> Recorded:
        """Record the deal as lost, with a reason."""
        closed = values.iso_date(closed_on, "closed_on")
        reason = values.text(reason, "reason")

        def decide(opportunity: Opportunity) -> None:
            self._require_ar_or_lead(opportunity, actor, "lose it")
            opportunity.lose(reason, closed, actor.member_id, today=self.clock().date())

        return self._change(opportunity_id, decide, actor)

    def upsert_opportunity(self, actor: Actor, opportunity_id: UUID, *, account_id: str, name: str,
                           amount: object, currency: str, expected_close: str, stage: str | None,
                           mark: dict) -> Recorded:
        """Take a CRM's view of a deal: open it the first time, then correct what differs while it
        is open, and follow the CRM's stage to won or lost.

        Each upsert applies once: the opportunity keeps the mark (topic, partition, offset) of the
        last upsert it applied, saved with its effect, and one at or before that mark corrects
        nothing. A closed deal takes no corrections from a CRM (after the win, changing the amount
        is a lead's call). The answer's `outcome` says what happened: opened, corrected, won, lost or
        unchanged.
        """
        stage = None if stage is None else values.text(stage, "stage", limit=64).strip().lower()
        try:
            recorded = self.open_opportunity(
                actor, account_id=account_id, name=name, amount=amount, currency=currency,
                expected_close=expected_close, opportunity_id=opportunity_id, upsert=mark)
            outcome = "opened"
        except OpportunityAlreadyExists:
            recorded, outcome = None, "unchanged"
        close = values.iso_date(expected_close, "expected_close")
        closed_on = min(close, self.clock().date())
        done: list[str] = [outcome]

        def decide(opportunity: Opportunity) -> list[Aggregate]:
            done[1:] = []
            if opportunity.is_closed:
                return []
            if outcome != "opened" and not opportunity.already_upserted(mark):
                if opportunity.currency != currency:
                    raise InvalidInput(f"the deal is in {opportunity.currency}, not {str(currency)[:8]!r}",
                                       field="currency")
                before = opportunity.version
                opportunity.correct(amount=parse_amount(amount, currency),
                                    expected_close=close.isoformat(), attributes=None,
                                    actor=actor.member_id)
                if opportunity.version != before:
                    self._regrade_open(opportunity, actor)
                    done.append("corrected")
            if stage in WON_STAGES:
                result = self._won(opportunity, actor, opportunity.amount, closed_on, None,
                                   checked=False)
                done.append("won")
            else:
                result = []
                if stage in LOST_STAGES:
                    opportunity.lose(f"{stage} in {actor.member_id}", closed_on, actor.member_id,
                                     today=self.clock().date())
                    done.append("lost")
            if len(done) > 1:
                opportunity.note_upsert(mark)
            return result

        changed = self._change(str(opportunity_id), decide)
        outcomes = [o for o in done if o != "unchanged"]
        return Upserted(changed.id, max(changed.position, recorded.position if recorded else 0),
                        "+".join(outcomes) or "unchanged")

    def regrade_opportunities(self, actor: Actor) -> Recorded:
        """Grade every open opportunity again by the opportunity grading policy in force today
        (a lead's override stands)."""
        if actor.role not in MAY["regrade"]:
            raise NotAllowed("only finance, a lead or an admin regrades the opportunities")
        return self._regrade_opportunities(actor.member_id)

    def _opportunity_grading(self, amount: int, currency: str, attributes: dict,
                             override: str | None, actor: Actor, reason: str | None = None,
                             on: date | None = None) -> Grading:
        """The grade by the opportunity grading policy in force `on` (today), or a lead's override
        that records who set it and why."""
        policy = self.policy_in_force("opportunity-grading", on or self.clock().date())
        grading = policy.grade(amount, currency, attributes)
        if override is None:
            return grading
        return Grading(override, (f"set by {actor.member_id} (lead): {reason}; the policy gives "
                                  f"{grading.grade}",),
                       policy.reference(), required_roles=policy.required(override))

    def _grade_won(self, opportunity: Opportunity, actor: Actor, closed: date) -> None:
        """The pool rate's grade is the won amount's, by the grading policy in force on the close
        date, unless a lead's override stands."""
        opportunity.grade_by(self._opportunity_grading(
            opportunity.amount, opportunity.currency, opportunity.attributes, override=None,
            actor=actor, on=closed), actor.member_id)

    def _regrade_opportunities(self, actor: str) -> Recorded:
        policy = self.policy_in_force("opportunity-grading", self.clock().date())

        def regrade(opportunity: Opportunity) -> None:
            if not opportunity.is_closed:
                opportunity.grade_by(policy.grade(opportunity.amount, opportunity.currency,
                                                  opportunity.attributes), actor)

        return self._regrade(Opportunity.Opened, self._opportunity, regrade)

    def _regrade_open(self, opportunity: Opportunity, actor: Actor, grade: str | None = None,
                      release: bool = False, reason: str | None = None) -> None:
        """Grade an open deal again by the policy in force (or a lead's `grade`) after a change."""
        grading = self._opportunity_grading(opportunity.amount, opportunity.currency,
                                            opportunity.attributes, override=grade, actor=actor,
                                            reason=reason)
        opportunity.grade_by(grading, actor.member_id, overridden=grade is not None, release=release)

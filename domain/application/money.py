"""Use cases of the money: approval, cash, cancellations and refunds, disputes, periods."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from uuid import UUID, uuid4, uuid5

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from domain import values
from domain.aggregates import (
    GOLDSPLIT,
    Allocation,
    Dispute,
    Opportunity,
    Period,
    SourceClaim,
)
from domain.application.access import Actor
from domain.application.results import CloseReport, PaymentReceived, Recorded, WithStatus
from domain.exceptions import (
    AllocationAlreadyApproved,
    AllocationNotFound,
    ConcurrencyConflict,
    Conflict,
    InvalidAmount,
    InvalidInput,
    NotAllowed,
    NotFound,
    OpportunityClosed,
    PeriodClosed,
    PeriodNotOver,
)
from domain.money import exponent, parse_amount
from domain.payables import (
    as_targets,
    due,
    entry_id,
    last_day,
    month_of,
    months_of,
    over_pool,
    split,
    targets_of,
    within_pool,
)
from domain.policy import IncentivePolicy


def _owed(allocation: Allocation, opportunity: Opportunity) -> dict[str, dict[str, int]]:
    return due(as_targets(allocation.targets), allocation.paid, opportunity.cash, opportunity.amount)


class Money:
    """Use cases of the money: approval, cash, cancellations and refunds, disputes, periods."""

    def approve_allocation(self, actor: Actor, allocation_id: str) -> Recorded:
        """Finance approves an allocation: its upfront parts (and what cash already released)
        become payable, in the period of the win date (or the current one if that is closed)."""
        self._require(actor, "move money", "approves allocations")
        allocation = self._allocation(allocation_id)
        self._require_no_line(allocation, actor, "approves it")

        def decide(opportunity: Opportunity) -> list[Aggregate]:
            fresh = self._allocation(allocation.id)
            if fresh.approved:
                raise AllocationAlreadyApproved("the allocation is approved already")
            if opportunity.stage != "won":
                raise OpportunityClosed(f"the deal is {opportunity.stage}; nothing of it is payable")
            today = self.clock().date()
            targets = as_targets(fresh.targets)
            entries = self._entries(fresh, opportunity,
                                    due(targets, {}, opportunity.cash, opportunity.amount),
                                    "approval", "upfront", "upfront",
                                    date.fromisoformat(opportunity.closed_on))
            # what the cash collected so far releases, in the period of each payment
            paid: dict[str, dict[str, int]] = {}
            cash = 0
            for pid, payment in sorted(opportunity.payments.items(),
                                       key=lambda p: (p[1]["received_on"], p[0])):
                cash = min(cash + payment["amount"], opportunity.cash)  # refunds come off the top
                released = self._entries(fresh, opportunity, due(targets, paid, cash, opportunity.amount),
                                         f"approval:payment:{pid}", "release", "release",
                                         date.fromisoformat(payment["received_on"]))
                for entry in released:
                    paid.setdefault(entry["member_id"], {"upfront": 0, "release": 0})["release"] += \
                        entry["amount"]
                entries += released
            entries, periods = self._booked(entries, "approval", today)
            fresh.approve(entries, actor.member_id, at=self.clock().isoformat())
            opportunity.note_approval(str(fresh.id), actor.member_id)  # so a racing payment conflicts
            return [fresh, *periods]

        return self._money_change(allocation, decide)

    def receive_payment(self, actor: Actor, opportunity_id: str, *, amount: object, currency: str,
                        received_on: str, payment_id: str | None = None,
                        source: str | None = None) -> Recorded:
        """Record cash collected on a won deal; it releases held parts in the payment's period."""
        self._require(actor, "record cash", "records payments")
        on = values.iso_date(received_on, "received_on")
        if on > self.clock().date():
            raise InvalidInput("is in the future", field="received_on")
        pid = values.key(payment_id, "payment_id") if payment_id is not None else str(uuid4())
        claim_id = uuid5(GOLDSPLIT, f"payment:{pid}")  # a payment id is the ledger's, not a deal's
        repeated = [False]

        def decide(opportunity: Opportunity) -> list[Aggregate]:
            if currency != opportunity.currency:
                raise InvalidInput(f"the deal is in {opportunity.currency}, not {str(currency)[:8]!r}",
                                   field="currency")
            minor = parse_amount(amount, opportunity.currency)
            if opportunity.stage == "won":  # cash releases held parts: not one's own
                self._require_no_line(self._allocation(Allocation.create_id(opportunity.id)), actor,
                                      "records its payments")
            if pid not in opportunity.payments and self._claimed(claim_id):
                raise Conflict("this payment id is recorded already, on another opportunity",
                               field="payment_id")
            repeated[0] = not opportunity.receive_payment(
                payment_id=pid, amount=minor, received_on=on, actor=actor.member_id, source=source)
            if repeated[0]:
                return []
            claim = SourceClaim(opportunity_id=str(opportunity.id), id=claim_id)
            allocation = self._allocation(Allocation.create_id(opportunity.id))
            if not allocation.approved:
                return [claim]
            entries = self._entries(allocation, opportunity, _owed(allocation, opportunity),
                                    f"payment:{pid}", "release", "release", on)
            entries, periods = self._booked(entries, f"payment:{pid}", self.clock().date())
            allocation.release(pid, entries, actor.member_id, at=self.clock().isoformat())
            return [allocation, *periods, claim]

        return self._change(opportunity_id, decide, actor,
                            lambda _: PaymentReceived(pid, repeated=repeated[0] or None))

    def cancel_won_deal(self, actor: Actor, opportunity_id: str, reason: str) -> Recorded:
        """A won deal is cancelled: what was payable of it is clawed back in the current period."""
        self._require(actor, "move money", "cancels won deals")
        reason = values.text(reason, "reason")

        def decide(opportunity: Opportunity) -> list[Aggregate]:
            opportunity.cancel(reason, self.clock().date(), actor.member_id)
            return self._follow_late_fact(opportunity, "cancellation", f"deal cancelled: {reason}",
                                          actor)

        return self._change(opportunity_id, decide)

    def refund(self, actor: Actor, opportunity_id: str, *, amount: object, reason: str,
               refund_id: str | None = None) -> Recorded:
        """Part of a won deal goes back to the customer: its pool and lines shrink accordingly."""
        self._require(actor, "move money", "records refunds")
        reason = values.text(reason, "reason")
        rid = values.key(refund_id, "refund_id") if refund_id is not None else str(uuid4())
        claim_id = uuid5(GOLDSPLIT, f"refund:{rid}")  # a refund id is the ledger's, not a deal's

        def decide(opportunity: Opportunity) -> list[Aggregate]:
            minor = parse_amount(amount, opportunity.currency)
            if rid not in opportunity.refunds and self._claimed(claim_id):
                raise Conflict("this refund id is recorded already, on another opportunity",
                               field="refund_id")
            if not opportunity.refund(refund_id=rid, amount=minor, refunded_on=self.clock().date(),
                                      reason=reason, actor=actor.member_id):
                return []  # a retried refund id is recorded once
            return [*self._follow_late_fact(opportunity, f"refund:{rid}", f"refund: {reason}", actor),
                    SourceClaim(opportunity_id=str(opportunity.id), id=claim_id)]

        return self._change(opportunity_id, decide)

    def raise_dispute(self, actor: Actor, allocation_id: str, *, member_id: str, reason: str,
                      dispute_id: UUID | None = None) -> Recorded:
        """A member disputes their own line of an allocation, with a reason; one open dispute per
        member per line."""
        if actor.member_id != member_id:
            raise NotAllowed("a member disputes only their own line", field="member_id")
        reason = values.text(reason, "reason")
        allocation = self._allocation(allocation_id)
        self._require_seen(allocation, allocation.opportunity_id, actor, AllocationNotFound,
                           "allocation_id", allocation_id)
        if member_id not in allocation.targets and member_id not in allocation.paid:
            raise NotFound(f"{member_id} has no line in this allocation", field="member_id")
        did = dispute_id or uuid4()

        raised: list[Dispute] = []

        def decide(opportunity: Opportunity) -> list[Aggregate]:
            raised[:] = [self._dispute(did)] if did in self.repository else []  # the same one again
            if raised:
                return []
            raised.append(Dispute(allocation_id=allocation.id, member_id=member_id, reason=reason,
                                  actor=actor.member_id, id=did))
            opportunity.note_dispute(str(did), member_id, actor.member_id)
            return raised[:]

        return self._change(str(allocation.opportunity_id), decide,
                            answer=lambda _: WithStatus(str(did), status=raised[0].status))

    def resolve_dispute(self, actor: Actor, dispute_id: str, *, decision: str, reason: str,
                        corrected_amount: object = None) -> Recorded:
        """Finance rejects a dispute (with a reason) or upholds it with the corrected amount of the
        line, which becomes an adjustment in the current period."""
        self._require(actor, "move money", "resolves disputes")
        reason = values.text(reason, "reason")
        if decision not in ("reject", "uphold"):
            raise InvalidInput(f"{str(decision)[:20]!r} is not a decision; use reject or uphold",
                               field="decision")
        dispute = self._dispute(dispute_id)
        if dispute.member_id == actor.member_id:
            raise NotAllowed("nobody resolves their own dispute: another member of finance does")
        allocation = self._allocation(dispute.allocation_id)
        # an upheld line moves the others (redistribution), a rejected one keeps them: either way
        # the decision is not for someone whose own line is in the same split
        self._require_no_line(allocation, actor, "decides its disputes")

        def decide(opportunity: Opportunity) -> list[Aggregate]:
            fresh = self._dispute(dispute.id)
            if decision == "reject":
                fresh.reject(reason, actor.member_id)
                opportunity.note_dispute_resolved(str(fresh.id), fresh.member_id, actor.member_id)
                return [fresh]
            if corrected_amount is None:
                raise InvalidInput("upholding needs the corrected amount of the line",
                                   field="corrected_amount")
            zero = values.plain_decimal(corrected_amount, "corrected_amount",
                                        places=exponent(opportunity.currency), error=InvalidAmount,
                                        what="amount") == 0
            corrected = 0 if zero else parse_amount(corrected_amount, opportunity.currency,
                                                    field="corrected_amount")
            fresh.uphold(corrected, actor.member_id, reason=reason)
            opportunity.note_dispute_resolved(str(fresh.id), fresh.member_id, actor.member_id)
            line = self._allocation(allocation.id)
            overrides = {**line.overrides, fresh.member_id: corrected}
            return [fresh, *self._follow_late_fact(
                opportunity, f"dispute:{fresh.id}", f"dispute upheld: {reason}", actor,
                overrides=overrides, allocation=line)]

        return self._money_change(allocation, decide, ident=str(dispute.id))

    def require_closable(self, actor: Actor, period: str) -> list[str]:
        """The months of a period finance may close now: each over and none closed yet."""
        self._require(actor, "move money", "closes periods")
        months = months_of(period)
        today = self.clock().date()
        for month in months:
            if last_day(month) >= today:
                raise PeriodNotOver(f"{month} is not over yet (it ends {last_day(month)})",
                                    field="period")
            if self._period(month).closed:
                raise PeriodClosed(f"{month} is closed already; a closed period cannot be reopened",
                                   field="period")
        return months

    def close_period(self, actor: Actor, period: str, *, cutoff: int, report: dict,
                     versions: dict[str, int]) -> Recorded:
        """Lock the months of a period after the replay proved them (`report`, up to `cutoff`).

        `versions` are the months' Period versions the replay saw: a booking since then makes the
        close conflict, so nothing can slip into a month after the numbers were proven.
        """
        months = self.require_closable(actor, period)
        periods = []
        for month in months:
            found = self._period(month)
            stored = 0 if found.pending_events else found.version  # a month nobody booked into yet
            if stored != versions.get(month, 0):
                raise ConcurrencyConflict(f"{month} was booked into after the replay; close again")
            found.close(cutoff=cutoff, report=report, actor=actor.member_id)
            periods.append(found)
        try:  # the answer is the report, with the position of the close
            return self._saved(CloseReport(period, **report), *periods)
        except IntegrityError:
            raise ConcurrencyConflict("a period was booked into meanwhile; close again") from None

    def _money_change(self, allocation: Allocation, decide: Callable[[Opportunity], Sequence[Aggregate]],
                      ident: str | None = None) -> Recorded:
        """Change an allocation (and what goes with it) in its opportunity's turn; the answer
        names the allocation, or `ident`."""
        return self._change(str(allocation.opportunity_id), decide,
                            answer=lambda _: Recorded(ident or str(allocation.id)))

    def _follow_late_fact(self, opportunity: Opportunity, cause: str, reason: str, actor: Actor,
                          overrides: dict[str, int] | None = None,
                          allocation: Allocation | None = None) -> list[Aggregate]:
        """A won deal's facts changed: recompute its split by the allocation's own policy version;
        once approved, book each difference as an adjustment in the current period."""
        if opportunity.stage not in ("won", "cancelled"):
            return []
        allocation = allocation or self._allocation(Allocation.create_id(opportunity.id))
        policy = IncentivePolicy.from_stored(allocation.policy)
        upheld = overrides is not None
        overrides = dict(allocation.overrides if overrides is None else overrides)
        result = None if opportunity.stage == "cancelled" else split(opportunity, policy)
        if result is not None:
            if upheld and over_pool(result, overrides):
                raise InvalidInput(f"the lines would add up to more than the pool ({result['pool']} "
                                   "minor units)", field="corrected_amount")
            overrides = within_pool(result, overrides)
        targets = targets_of(result, overrides, policy)
        entries: list[dict] = []
        periods: list[Aggregate] = []
        today = self.clock().date()
        if allocation.approved:
            owed = due(as_targets(targets), allocation.paid, opportunity.cash, opportunity.amount)
            entries = [e for bucket in ("upfront", "release") for e in self._entries(
                allocation, opportunity, owed, cause, bucket, "adjustment", today, reason=reason)]
            entries, periods = self._booked(entries, cause, today)
        allocation.adjust(cause=cause, reason=reason, targets=targets, overrides=overrides,
                          entries=entries, result=result, actor=actor.member_id,
                          at=self.clock().isoformat())
        return [allocation, *periods] if allocation.pending_events else []

    def _entries(self, allocation: Allocation, opportunity: Opportunity,
                 owed: dict[str, dict[str, int]], cause: str, bucket: str, kind: str, on: date,
                 reason: str | None = None) -> list[dict]:
        """The entries of one bucket (upfront or release) of what is owed, payable from `on`."""
        return [
            {"entry_id": entry_id(allocation.id, cause, member, f"{kind}:{bucket}"),
             "member_id": member, "kind": kind, "pays": bucket, "amount": amounts[bucket],
             "currency": allocation.currency, "on": on.isoformat(), "period": month_of(on),
             "allocation_id": str(allocation.id), "opportunity_id": str(opportunity.id),
             "cause": cause, "reason": reason,
             "corrects": ({"allocation_id": str(allocation.id), "member_id": member}
                          if kind == "adjustment" else None)}
            for member, amounts in sorted(owed.items()) if amounts[bucket]
        ]

    def _booked(self, entries: list[dict], cause: str, today: date) -> tuple[list[dict], list[Period]]:
        """Entries into their months; one whose month is closed goes to the current month. Every
        month booked into is touched, so a concurrent close of it conflicts."""
        periods: dict[str, Period] = {}
        booked = []
        for entry in entries:
            period = periods.get(entry["period"]) or self._period(entry["period"])
            if period.closed:
                entry = {**entry, "period": month_of(today)}
                period = periods.get(entry["period"]) or self._period(entry["period"])
            periods[entry["period"]] = period
            booked.append(entry)
        for month, period in periods.items():
            period.book(sum(e["period"] == month for e in booked), cause)
        return booked, list(periods.values())

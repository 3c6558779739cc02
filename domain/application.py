"""The goldsplit Application: one method per use case, primitives in, ids and log positions out."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from domain import values
from domain.aggregates import DEPARTMENTS, Allocation, Member, Opportunity, PolicyBook
from domain.allocation import CountedContribution, allocate, steps
from domain.exceptions import (
    ConcurrencyConflict,
    InvalidInput,
    MemberAlreadyExists,
    MemberNotFound,
    NotAllowed,
    NotFound,
    OpportunityAlreadyExists,
    OpportunityNotFound,
    UnknownContributionKind,
)
from domain.money import parse_amount
from domain.policy import DEFAULT_INCENTIVE_DOCUMENT, GRADES, IncentivePolicy, in_force

ROLES_THAT_LEAD = ("lead", "admin")
ATTEMPTS = 8  # optimistic retries against writers in other processes
SYSTEM = "system"


@dataclass(frozen=True)
class Actor:
    """Who causes a command: a member id and the role their token carries."""

    member_id: str
    role: str

    @property
    def leads(self) -> bool:
        return self.role in ROLES_THAT_LEAD


@dataclass(frozen=True)
class Recorded:
    """What a command answers: the id it acted on and the log position of its last event."""

    id: str
    position: int
    extra: dict[str, Any] = field(default_factory=dict)


def _hours(value: object) -> str:
    if value is None:
        return "0"
    hours = values.plain_decimal(value, "hours", places=2, what="number of hours")
    if hours > 10_000:
        raise InvalidInput("must be at most 10000 hours", field="hours")
    return str(hours)


class Goldsplit(Application):
    """The ledger of team-selling work and the split of won deals' bonus pools."""

    name = "goldsplit"

    def __init__(self, env: dict[str, str] | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        super().__init__(env)
        self.clock = clock
        self._writers = [threading.Lock() for _ in range(64)]
        self._ensure_default_policy()

    # -- members -------------------------------------------------------------------------------

    def register_member(self, actor: Actor, member_id: str, name: str, department: str) -> Recorded:
        """Register a member of the selling team."""
        member_id = values.text(member_id, "id", limit=64)
        if department not in DEPARTMENTS:
            raise InvalidInput(f"{department!r} is not a department; use one of {list(DEPARTMENTS)}",
                               field="department")
        member = Member(member_id=member_id, name=values.text(name, "name", limit=200),
                        department=department, actor=actor.member_id)
        try:
            return self._saved(member_id, member)
        except IntegrityError:
            raise MemberAlreadyExists(f"member {member_id} exists already", field="id") from None

    def member(self, member_id: str) -> dict:
        member = self._member(member_id, "member_id")
        return {"id": member.member_id, "name": member.name, "department": member.department}

    # -- opportunities -------------------------------------------------------------------------

    def open_opportunity(self, actor: Actor, *, account_id: str, name: str, amount: object,
                         currency: str, expected_close: str, grade: str | None = None,
                         attributes: dict | None = None,
                         opportunity_id: UUID | None = None) -> Recorded:
        """Open an opportunity on an account; a member who opens it takes its AR seat.

        Until opportunity grading policies exist a lead gives the grade; it defaults to C.
        """
        if grade is not None and not actor.leads:
            raise NotAllowed("only a lead grades an opportunity; leave grade out (C until graded)",
                             field="grade")
        grade = "C" if grade is None else grade
        if not actor.leads:
            self._member(actor.member_id, "member_id")
        if grade not in GRADES:
            raise InvalidInput(f"{grade!r} is not a grade; use one of {list(GRADES)}", field="grade")
        opportunity = Opportunity(
            account_id=values.text(account_id, "account_id", limit=200),
            name=values.text(name, "name", limit=200),
            amount=parse_amount(amount, currency),
            currency=currency,
            expected_close=values.iso_date(expected_close, "expected_close").isoformat(),
            grade=grade,
            attributes=values.attributes(attributes),
            actor=actor.member_id,
            **({"id": opportunity_id} if opportunity_id else {}),
        )
        if not actor.leads:
            opportunity.assign_role("AR", actor.member_id, actor.member_id)
        try:
            return self._saved(str(opportunity.id), opportunity, grade=grade)
        except IntegrityError:
            raise OpportunityAlreadyExists(f"opportunity {opportunity.id} exists already") from None

    def assign_triangle_role(self, actor: Actor, opportunity_id: str, role: str,
                             member_id: str) -> Recorded:
        """Put a member in the AR, SR or FR seat; the earlier holder stays in the history."""
        self._member(member_id, "member_id")

        def decide(opportunity: Opportunity) -> None:
            self._require_ar_or_lead(opportunity, actor, "change the triangle")
            opportunity.assign_role(role, member_id, actor.member_id)

        return self._change(opportunity_id, decide)

    def add_supporter(self, actor: Actor, opportunity_id: str, member_id: str) -> Recorded:
        """Add a back-office member who works on the opportunity outside the triangle."""
        self._member(member_id, "member_id")

        def decide(opportunity: Opportunity) -> None:
            self._require_ar_or_lead(opportunity, actor, "add supporters")
            opportunity.add_supporter(member_id, actor.member_id)

        return self._change(opportunity_id, decide)

    def record_contribution(self, actor: Actor, opportunity_id: str, *, member_id: str, kind: str,
                            summary: str, occurred_at: str, hours: object = None,
                            evidence_url: str | None = None, role: str | None = None,
                            contribution_id: UUID | None = None) -> Recorded:
        """Record one piece of work; a member records only their own, on opportunities they are on."""
        if not actor.leads and actor.member_id != member_id:
            raise NotAllowed("a member records only their own contributions", field="member_id")
        weights = self.incentive_policy_in_force(self.clock().date()).kind_weights
        if kind not in weights:
            raise UnknownContributionKind(
                f"{kind!r} is not a contribution kind; known kinds: {sorted(weights)}", field="kind")
        cid = str(contribution_id or uuid4())
        fields = dict(
            contribution_id=cid, member_id=member_id, role=role, kind=kind,
            summary=values.text(summary, "summary"), hours=_hours(hours),
            occurred_at=values.iso_datetime(occurred_at, "occurred_at"),
            evidence_url=values.text(evidence_url, "evidence_url", required=False) or None,
            actor=actor.member_id, now=self.clock())

        def decide(opportunity: Opportunity) -> None:
            opportunity.record_contribution(**fields)

        return Recorded(cid, self._change(opportunity_id, decide).position)

    def confirm_contribution(self, actor: Actor, opportunity_id: str, contribution_id: str) -> Recorded:
        """The AR (or a lead) confirms that a contribution happened as recorded."""

        def decide(opportunity: Opportunity) -> None:
            self._require_ar_or_lead(opportunity, actor, "confirm contributions")
            if opportunity.contribution(contribution_id)["member_id"] == actor.member_id:
                raise NotAllowed("a contribution is confirmed by someone other than its author "
                                 "(a lead confirms the AR's own work)")
            opportunity.confirm_contribution(contribution_id, actor.member_id)

        return Recorded(contribution_id, self._change(opportunity_id, decide).position)

    def reverse_contribution(self, actor: Actor, opportunity_id: str, contribution_id: str,
                             reason: str) -> Recorded:
        """Reverse a contribution with a reason; it stays on the record, never edited or deleted."""
        reason = values.text(reason, "reason")

        def decide(opportunity: Opportunity) -> None:
            self._require_ar_or_lead(opportunity, actor, "reverse contributions")
            opportunity.reverse_contribution(contribution_id, reason, actor.member_id)

        return Recorded(contribution_id, self._change(opportunity_id, decide).position)

    def win(self, actor: Actor, opportunity_id: str, *, closed_on: str,
            amount: object = None) -> Recorded:
        """Win the deal and propose its allocation by the incentive policy in force on the close date."""
        closed = values.iso_date(closed_on, "closed_on")
        policy = self.incentive_policy_in_force(closed)

        def decide(opportunity: Opportunity) -> list[Allocation]:
            self._require_ar_or_lead(opportunity, actor, "win it")
            minor = (opportunity.amount if amount is None
                     else parse_amount(amount, opportunity.currency))
            opportunity.win(minor, closed, actor.member_id, today=self.clock().date())
            result = allocate(amount=minor, grade=opportunity.grade, closed_on=closed,
                              contributions=[CountedContribution.from_record(c)
                                             for c in opportunity.contributions.values()],
                              policy=policy)
            explained = {line.member_id: steps(result, line.member_id) for line in result.lines}
            return [Allocation(opportunity_id=opportunity.id, currency=opportunity.currency,
                               result={**result.as_dict(), "explain": explained},
                               policy=policy.as_dict(), actor=actor.member_id)]

        recorded = self._change(opportunity_id, decide)
        allocation_id = Allocation.create_id(UUID(recorded.id))
        return Recorded(recorded.id, recorded.position, {"allocation_id": str(allocation_id)})

    def lose(self, actor: Actor, opportunity_id: str, *, reason: str, closed_on: str) -> Recorded:
        """Record the deal as lost, with a reason."""
        closed = values.iso_date(closed_on, "closed_on")
        reason = values.text(reason, "reason")

        def decide(opportunity: Opportunity) -> None:
            self._require_ar_or_lead(opportunity, actor, "lose it")
            opportunity.lose(reason, closed, actor.member_id, today=self.clock().date())

        return self._change(opportunity_id, decide)

    # -- policies ------------------------------------------------------------------------------

    def add_incentive_policy(self, actor: Actor, document: dict) -> Recorded:
        """Add a validated, effective-dated version of the incentive policy."""
        if actor.role not in ("finance", "admin"):
            raise NotAllowed("only finance defines the incentive policy")
        book = self._policy_book("incentive")
        policy = book.add_incentive_version(document, actor.member_id)
        try:
            return self._saved(str(policy.version), book, version=policy.version, hash=policy.hash)
        except IntegrityError:
            raise ConcurrencyConflict("another version was added meanwhile; retry") from None

    def incentive_policies(self) -> list[IncentivePolicy]:
        return self._policy_book("incentive").incentive_versions()

    def incentive_policy_in_force(self, on: date) -> IncentivePolicy:
        policy = in_force(self.incentive_policies(), on)
        if policy is None:
            raise InvalidInput(f"no incentive policy is in force on {on}", field="closed_on")
        return policy

    # -- plumbing ------------------------------------------------------------------------------

    def _ensure_default_policy(self) -> None:
        if PolicyBook.create_id("incentive") in self.repository:
            return
        book = PolicyBook(kind="incentive", actor=SYSTEM)
        book.add_incentive_version(DEFAULT_INCENTIVE_DOCUMENT, SYSTEM)
        try:
            self.save(book)
        except IntegrityError:
            pass  # another process created it first

    def _policy_book(self, kind: str) -> PolicyBook:
        return self.repository.get(PolicyBook.create_id(kind))

    def _member(self, member_id: str, field_name: str) -> Member:
        return self._get(Member.create_id(str(member_id)), Member, MemberNotFound, field_name,
                         member_id)

    def _opportunity(self, opportunity_id: str | UUID) -> Opportunity:
        oid = values.identifier(opportunity_id, "opportunity", OpportunityNotFound)
        return self._get(oid, Opportunity, OpportunityNotFound, "opportunity_id", opportunity_id)

    def _get(self, aggregate_id: UUID, cls: type, not_found: type[NotFound], field_name: str,
             given: object) -> Any:
        """The aggregate of that class with that id, or `not_found` naming the field."""
        try:
            aggregate = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            aggregate = None
        if not isinstance(aggregate, cls):
            raise not_found(f"no {cls.__name__.lower()} {given}", field=field_name)
        return aggregate

    @staticmethod
    def _require_ar_or_lead(opportunity: Opportunity, actor: Actor, doing: str) -> None:
        if not actor.leads and opportunity.triangle["AR"] != actor.member_id:
            raise NotAllowed(f"only the AR of this opportunity or a lead may {doing}")

    def _change(self, opportunity_id: str,
                decide: Callable[[Opportunity], Sequence[Aggregate] | None]) -> Recorded:
        """Load, decide, save (with what `decide` creates), in one transaction.

        Writers in this process take turns per opportunity; a writer in another process that
        got there first makes us load and decide again on the new state.
        """
        oid = values.identifier(opportunity_id, "opportunity", OpportunityNotFound)
        with self._writers[oid.int % len(self._writers)]:
            for attempt in range(ATTEMPTS):
                opportunity = self._opportunity(oid)
                created = decide(opportunity) or ()
                if not opportunity.pending_events:  # nothing changed (e.g. the same AR again)
                    return Recorded(str(oid), self._head())
                try:
                    return self._saved(str(oid), opportunity, *created)
                except IntegrityError:
                    time.sleep(random.uniform(0, min(0.005 * 2**attempt, 0.2)))
        raise ConcurrencyConflict("the opportunity kept changing; retry")

    def _saved(self, ident: str, *aggregates: Any, **extra: Any) -> Recorded:
        recordings = self.save(*aggregates)
        return Recorded(ident, recordings[-1].notification.id, extra)

    def _head(self) -> int:
        return self.recorder.max_notification_id() or 0

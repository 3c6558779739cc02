"""The goldsplit Application: one method per use case, primitives in, ids and log positions out."""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, ClassVar
from uuid import UUID, uuid4, uuid5

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from domain import values
from domain.aggregates import (
    DEFAULT_POLICY_DOCUMENTS,
    DEPARTMENTS,
    GOLDSPLIT,
    POLICY_KINDS,
    Account,
    Allocation,
    Ask,
    Dispute,
    Member,
    Opportunity,
    Period,
    PolicyBook,
    SourceClaim,
    SupportRequest,
    Task,
)
from domain.exceptions import (
    AccountAlreadyExists,
    AccountNotFound,
    AllocationAlreadyApproved,
    AllocationNotFound,
    AskNotFound,
    ConcurrencyConflict,
    Conflict,
    DisputeNotFound,
    DomainError,
    InvalidAmount,
    InvalidInput,
    LeadsCall,
    MemberAlreadyExists,
    MemberNotFound,
    NotAllowed,
    NotFound,
    OpportunityAlreadyExists,
    OpportunityClosed,
    OpportunityNotFound,
    PeriodClosed,
    PeriodNotOver,
    RequestNotFound,
    TaskNotFound,
    UnknownContributionKind,
)
from domain.grading import Grading
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
from domain.policy import GRADES, IncentivePolicy, in_force

log = logging.getLogger(__name__)
ROLES_THAT_LEAD = ("lead", "admin")
ROLES_THAT_SET_POLICY = ("finance", "admin")
ROLES_THAT_SEE_EVERY_DEAL = ("lead", "finance", "auditor", "admin")
SUPPORT_DELIVERED = "support_delivered"
NAMES = {SupportRequest: "support request", PolicyBook: "policy"}  # in refusals
ATTEMPTS = 8  # optimistic retries against writers in other processes
KEPT_AGGREGATES = 256  # aggregates kept between commands on them (see Goldsplit._keep)
SYSTEM = "system"
WON_STAGES = ("won", "closed_won", "closed won")  # a CRM's words for a won or a lost deal
LOST_STAGES = ("lost", "closed_lost", "closed lost")
LEAD_CALLS = {  # the facts that are a lead's call (four eyes), and how a refusal names them
    "grade_override": "a grade override sets the pool rate",
    "amount_raised": "raising an open deal's amount raises everyone's split",
    "won_amount": "the deal is won: correcting its amount moves booked money",
    "above_open_amount": "a win above the open amount raises everyone's split",
    "earlier_month": "a close date in an earlier month",
    "before_confirmed_work": "a close date before confirmed work leaves that work out",
    "other_policy": "a close date under other policy versions than today's",
    "reverse_confirmed": "reversing someone else's confirmed work moves their share to the others",
}


@dataclass(frozen=True)
class Actor:
    """Who causes a command: a member id and the role their token carries."""

    member_id: str
    role: str

    @property
    def leads(self) -> bool:
        return self.role in ROLES_THAT_LEAD


# a command's answer, from the aggregate it decided on: the id it acted on and the extra fields
Answer = Callable[[Any], tuple[str, dict[str, Any]]]


@dataclass(frozen=True)
class Recorded:
    """What a command answers: the id it acted on and the log position of its last event."""

    id: str
    position: int
    extra: dict[str, Any] = field(default_factory=dict)

    def document(self) -> dict[str, Any]:
        """The answer as the API gives it: `{id, position}` plus what the use case adds."""
        return {"id": self.id, "position": self.position, **self.extra}

    def at(self, position: int) -> Recorded:
        return Recorded(self.id, position, self.extra)


def _unversioned(document: dict) -> dict:
    return {k: v for k, v in document.items() if k != "version"}


def _replayed(aggregate: Any, events: Iterable[Any]) -> Any:
    """eventsourcing's project_aggregate without its isinstance check against a runtime Protocol,
    which cost as much as applying the events (a fifth of a command's CPU)."""
    for domain_event in events:
        aggregate = domain_event.mutate(aggregate)
    return aggregate


def _owed(allocation: Allocation, opportunity: Opportunity) -> dict[str, dict[str, int]]:
    return due(as_targets(allocation.targets), allocation.paid, opportunity.cash, opportunity.amount)


def _lead_reason(reason: object) -> str | None:
    """A lead's reason for their call, when one is given (the call itself demands it)."""
    return None if reason is None else values.text(reason, "reason")


def _known_department(value: object, field: str) -> str:
    if value not in DEPARTMENTS:
        raise InvalidInput(f"{value!r} is not a department; use one of {list(DEPARTMENTS)}", field=field)
    return value


def _merged(attributes: dict, changes: dict) -> dict:
    """Attributes with changes applied: a key set to null is removed."""
    merged = {**attributes, **changes}
    return values.attributes({k: v for k, v in merged.items() if v is not None})  # the size limit holds


def _hours_worked(value: object) -> str:
    if value is None:
        return "0"
    hours = values.plain_decimal(value, "hours", places=2, what="number of hours")
    if hours > 10_000:
        raise InvalidInput("must be at most 10000 hours", field="hours")
    return str(hours)


class Goldsplit(Application):
    """The ledger of team-selling work and the split of won deals' bonus pools."""

    name = "goldsplit"
    # Loaded on every command about them, a busy opportunity and a month's Period (touched by
    # every booking into it) come from a snapshot, not from all their events: otherwise each
    # command costs more than the one before (7.8 ms against 2.3 ms at 400 contributions).
    snapshotting_intervals: ClassVar[dict[type[Aggregate], int]] = {Opportunity: 50, Period: 50}

    def _take_snapshots(self, processing_event: Any) -> None:
        """Snapshot an aggregate whose save crossed its interval, from the state in hand.

        The library would read the aggregate back from the store at the crossing version; the one
        just saved is that state or a later one, and costs no query (a tenth of a batch's time).
        """
        if self.snapshots is None:
            return
        aggregates = processing_event.aggregates
        crossed = {}
        for event in processing_event.events:  # once over the events: a batch saves hundreds
            aggregate = aggregates.get(event.originator_id)
            interval = self.snapshotting_intervals.get(type(aggregate))
            if interval is not None and event.originator_version % interval == 0:
                crossed[event.originator_id] = aggregate
        for aggregate in crossed.values():
            self.snapshots.put([type(aggregate).Snapshot.take(aggregate)])

    def __init__(self, env: dict[str, str] | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        super().__init__(env)
        self.clock = clock
        self._writers = [threading.Lock() for _ in range(64)]
        self._policy_versions: dict[str, tuple[int, list[Any]]] = {}  # kind: (book version, versions)
        self._kept: dict[UUID, Any] = {}  # aggregates as last saved here, oldest first (see _keep)
        self._kept_lock = threading.Lock()
        self._ensure_default_policies()

    # -- members -------------------------------------------------------------------------------

    def register_member(self, actor: Actor, member_id: str, name: str, department: str,
                        team: str | None = None, *, employee_id: str | None = None,
                        cost_center: str | None = None) -> Recorded:
        """Register a member of the selling team; their team (for calibration) defaults to the department."""
        member_id = values.text(member_id, "id", limit=64, single_line=True)
        _known_department(department, "department")
        name = values.text(name, "name", limit=200, single_line=True)
        team = None if team is None else values.text(team, "team", limit=100, single_line=True)
        payroll = {field: values.text(value, field, limit=64, single_line=True)
                   for field, value in (("employee_id", employee_id), ("cost_center", cost_center))
                   if value is not None}
        member = Member(member_id=member_id, name=name, department=department, actor=actor.member_id,
                        **({"team": team} if team is not None else {}), **payroll)
        try:
            return self._saved(member_id, member)
        except IntegrityError:
            raise MemberAlreadyExists(f"member {member_id} exists already", field="id") from None

    def member(self, member_id: str) -> dict:
        member = self._member(member_id, "member_id")
        return {"id": member.member_id, "name": member.name, "department": member.department,
                "team": member.team}

    # -- opportunities -------------------------------------------------------------------------

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
        why = _lead_reason(reason) if grade is not None else None
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
            return self._saved(str(opportunity.id), opportunity, grade=grading.grade)
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
        why = _lead_reason(reason)
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

        return self._change(opportunity_id, decide, actor, lambda o: (str(o.id), {"grade": o.grade}))

    def _corrected(self, opportunity: Opportunity, actor: Actor, minor: int | None, close: str | None,
                   changes: dict | None, reason: str | None, grade: str | None = None,
                   release_grade: bool = False) -> list[Aggregate] | None:
        """Correct the deal as decided (by its AR, a lead, or a lead approving an ask)."""
        if opportunity.stage != "won" or close is not None or changes is not None:
            opportunity.require_open("correct it")  # of a won deal, only its amount
        merged = None if changes is None else _merged(opportunity.attributes, changes)
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

    def assess(self, actor: Actor, opportunity_id: str, answers: object,
               assessment_id: UUID | None = None) -> Recorded:
        """Judge the customer relationship by the standard in force: answers -> score -> probability."""
        standard = self.policy_in_force("relationship-standard", self.clock().date())
        assessed = standard.assess(answers)
        aid = str(assessment_id or uuid4())

        def decide(opportunity: Opportunity) -> None:
            if not actor.leads and not opportunity.is_on(actor.member_id):
                raise NotAllowed("only the opportunity's team or a lead assesses it")
            if any(a["id"] == aid for a in opportunity.assessments):
                return
            opportunity.assess(assessment_id=aid, answers=dict(answers), assessed=assessed,
                               standard=standard.reference(), actor=actor.member_id,
                               at=self.clock().isoformat())

        return self._change(opportunity_id, decide, actor, lambda _: (aid, {
            "score": assessed.score, "win_probability": str(assessed.win_probability),
            "standard_version": standard.version}))

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

    def record_contribution(self, actor: Actor, opportunity_id: str, *, member_id: str, kind: str,
                            summary: str, occurred_at: str, hours: object = None,
                            evidence_url: str | None = None, role: str | None = None,
                            contribution_id: UUID | None = None) -> Recorded:
        """Record one piece of work; a member records only their own, on opportunities they are on."""
        weights = self.incentive_policy_in_force(self.clock().date()).kind_weights
        fields = self._contribution(actor, weights, member_id=member_id, kind=kind, summary=summary,
                                    occurred_at=occurred_at, hours=hours, evidence_url=evidence_url,
                                    role=role, contribution_id=contribution_id)

        def decide(opportunity: Opportunity) -> None:
            opportunity.record_contribution(**fields)

        return self._change(opportunity_id, decide, actor, lambda _: (fields["contribution_id"], {}))

    def record_contributions(self, batch: Mapping[str, Sequence[tuple[Actor, dict]]]
                             ) -> dict[str, list[str | DomainError]]:
        """Record a consumer's batch of contributions, on many opportunities, in one save.

        `batch` maps an opportunity id to its (actor, arguments of record_contribution) pairs, each
        with the contribution id derived from its source message. Each is checked as
        record_contribution checks it and answers its contribution id or the refusal it got (every
        one of an opportunity that does not exist: OpportunityNotFound); the refused ones take no
        part in the save. A SourceClaim saved with each makes its id unique across the ledger: the
        same message naming another opportunity is refused (Conflict on `source_id`).
        """
        weights = self.incentive_policy_in_force(self.clock().date()).kind_weights
        answers: dict[str, list[str | DomainError]] = {}
        checked: dict[UUID, list[tuple[int, dict]]] = {}
        ids: dict[str, UUID] = {}
        claims_in_batch: dict[str, UUID] = {}  # contribution id -> the opportunity it is for
        for opportunity_id, contributions in batch.items():
            answers[opportunity_id] = []
            try:
                oid = ids[opportunity_id] = values.identifier(opportunity_id, "opportunity",
                                                              OpportunityNotFound)
            except DomainError as refusal:
                answers[opportunity_id] = [refusal] * len(contributions)
                continue
            for index, (actor, arguments) in enumerate(contributions):
                try:
                    fields = self._contribution(actor, weights, **arguments)
                    first_on = claims_in_batch.setdefault(fields["contribution_id"], oid)
                    if first_on != oid:
                        raise Conflict("this source_id is in the batch already, for another "
                                       "opportunity", field="source_id")
                    checked.setdefault(oid, []).append((index, fields))
                    answers[opportunity_id].append(fields["contribution_id"])
                except DomainError as refusal:
                    answers[opportunity_id].append(refusal)
        refused: dict[UUID, dict[int, DomainError]] = {}

        def decide(opportunity: Opportunity, retrying: bool) -> list[Aggregate]:
            refused[opportunity.id] = {}
            claims = []
            for index, fields in checked[opportunity.id]:
                cid = UUID(fields["contribution_id"])
                try:
                    if retrying and cid not in opportunity.contributions and self._claimed(cid):
                        raise Conflict("this source_id is recorded already, on another opportunity",
                                       field="source_id")
                    opportunity.record_contribution(**fields)
                except DomainError as refusal:  # checked before its event: nothing of it applied
                    refused[opportunity.id][index] = refusal
                    continue
                claims.append(SourceClaim(opportunity_id=str(opportunity.id), id=cid))
            return claims

        missing = self._update_all(list(checked), Opportunity, decide)
        for opportunity_id, oid in ids.items():
            given = answers[opportunity_id]
            if oid in missing:
                given[:] = [OpportunityNotFound(f"no opportunity {opportunity_id}",
                                                field="opportunity_id")] * len(given)
            else:
                given[:] = [refused.get(oid, {}).get(i, answer) for i, answer in enumerate(given)]
        return answers

    def _claimed(self, claim_id: UUID) -> str | None:
        """The opportunity a source message was recorded on, if it was."""
        try:
            return self.repository.get(claim_id).opportunity_id
        except AggregateNotFoundError:
            return None

    def _update_all(self, aggregate_ids: Sequence[UUID], cls: type,
                    decide: Callable[[Any, bool], Sequence[Aggregate]]) -> set[UUID]:
        """Load each aggregate, decide on it (with the other aggregates to save with it), and save
        every one that changed in one transaction; answer the ids that name no such aggregate. As
        `_update`, for many aggregates at once: their writer locks are taken in one order, and a
        save the store refuses (another writer got to one of them first, or an aggregate to create
        exists already) makes us load and decide on all of them again, `retrying`."""
        stripes = sorted({a.int % len(self._writers) for a in aggregate_ids})
        with contextlib.ExitStack() as held:
            for stripe in stripes:
                held.enter_context(self._writers[stripe])
            for attempt in range(ATTEMPTS):
                loaded, others, missing = [], [], set()
                for aggregate_id in aggregate_ids:
                    aggregate = self._kept_up_to_date(aggregate_id)
                    if aggregate is None:
                        try:
                            aggregate = self.repository.get(aggregate_id, projector_func=_replayed)
                        except AggregateNotFoundError:
                            missing.add(aggregate_id)
                            continue
                    if not isinstance(aggregate, cls):
                        missing.add(aggregate_id)
                        continue
                    others += decide(aggregate, attempt > 0)
                    loaded.append(aggregate)
                changed = [a for a in loaded if a.pending_events] + others
                try:
                    if changed:
                        self.save(*changed)
                except IntegrityError:
                    time.sleep(random.uniform(0, min(0.005 * 2**attempt, 0.2)))
                    continue
                for aggregate in loaded:
                    self._keep(aggregate)
                return missing
        raise ConcurrencyConflict(f"one of {len(aggregate_ids)} {cls.__name__.lower()}s kept changing; retry")

    def _contribution(self, actor: Actor, weights: dict, *, member_id: str, kind: str, summary: str,
                      occurred_at: str, hours: object = None, evidence_url: str | None = None,
                      role: str | None = None, contribution_id: UUID | None = None) -> dict:
        """A contribution's fields for Opportunity.record_contribution, checked as far as they can
        be without the opportunity (`weights`: the kinds of work the policy in force knows)."""
        if not actor.leads and actor.member_id != member_id:
            raise NotAllowed("a member records only their own contributions", field="member_id")
        if kind == SUPPORT_DELIVERED:
            raise InvalidInput(f"{SUPPORT_DELIVERED} is recorded when a support request is delivered "
                               "(POST /v1/requests/{id}/deliver)", field="kind")
        if kind not in weights:
            raise UnknownContributionKind(
                f"{kind!r} is not a contribution kind; known kinds: {sorted(weights)}", field="kind")
        return dict(
            contribution_id=str(contribution_id or uuid4()), member_id=member_id, role=role,
            kind=kind, summary=values.text(summary, "summary"), hours=_hours_worked(hours),
            occurred_at=values.iso_datetime(occurred_at, "occurred_at"),
            evidence_url=values.evidence_url(evidence_url),
            actor=actor.member_id, now=self.clock())

    def confirm_contribution(self, actor: Actor, opportunity_id: str, contribution_id: str) -> Recorded:
        """The AR (or a lead) confirms that a contribution happened as recorded."""

        def decide(opportunity: Opportunity) -> None:
            self._require_ar_or_lead(opportunity, actor, "confirm contributions")
            if opportunity.contribution(contribution_id)["member_id"] == actor.member_id:
                raise NotAllowed("a contribution is confirmed by someone other than its author "
                                 "(a lead confirms the AR's own work)")
            opportunity.confirm_contribution(contribution_id, actor.member_id)

        return self._change(opportunity_id, decide, actor, lambda _: (contribution_id, {}))

    def reverse_contribution(self, actor: Actor, opportunity_id: str, contribution_id: str,
                             reason: str) -> Recorded:
        """Reverse a contribution with a reason; it stays on the record, never edited or deleted.
        Someone else's confirmed work is a lead's call."""
        reason = values.text(reason, "reason")

        def decide(opportunity: Opportunity) -> list[Aggregate]:
            self._require_ar_or_lead(opportunity, actor, "reverse contributions")
            return self._reversed(opportunity, actor, contribution_id, reason)

        return self._change(opportunity_id, decide, actor, lambda _: (contribution_id, {}))

    def _reversed(self, opportunity: Opportunity, actor: Actor, contribution_id: str,
                  reason: str) -> list[Aggregate]:
        self._require_lead_after_win(opportunity, actor, "reverse contributions")
        contribution = opportunity.contribution(contribution_id)
        if contribution["status"] == "confirmed" and contribution["member_id"] != actor.member_id:
            self._require_lead_call(opportunity, actor, ["reverse_confirmed"], "contribution_id",
                                    reason)
        opportunity.reverse_contribution(contribution_id, reason, actor.member_id)
        return self._follow_late_fact(opportunity, f"reversal:{contribution_id}",
                                      f"contribution {contribution_id} reversed: {reason}", actor)

    def win(self, actor: Actor, opportunity_id: str, *, closed_on: str,
            amount: object = None, reason: str | None = None) -> Recorded:
        """Win the deal and propose its allocation by the incentive policy in force on the close
        date, at the pool rate of the won amount's grade. A win above the open amount or dated
        back (to an earlier month, before confirmed work, or under other policies) is a lead's
        call, with a `reason`."""
        closed = values.iso_date(closed_on, "closed_on")
        why = _lead_reason(reason)

        def decide(opportunity: Opportunity) -> list[Allocation]:
            self._require_ar_or_lead(opportunity, actor, "win it")
            minor = (opportunity.amount if amount is None
                     else parse_amount(amount, opportunity.currency))
            return self._won(opportunity, actor, minor, closed, why)

        return self._change(opportunity_id, decide, actor, lambda o: (
            str(o.id), {"allocation_id": str(Allocation.create_id(o.id))}))

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

        return self._change(opportunity_id, decide, actor, lambda _: (str(aid), {}))

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

        return self._change(str(ask.opportunity_id), decide, answer=lambda _: (str(ask.id), {}))

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
        is a lead's call). `extra["outcome"]` says what happened: opened, corrected, won, lost or
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
        return Recorded(changed.id, max(changed.position, recorded.position if recorded else 0),
                        {"outcome": "+".join(outcomes) or "unchanged"})

    # -- accounts ------------------------------------------------------------------------------

    def register_account(self, actor: Actor, *, name: str, industry: str | None = None,
                         attributes: dict | None = None, account_id: str | None = None) -> Recorded:
        """Register a customer; the account grading policy in force grades it. A member who
        registers it is its account manager."""
        aid = values.key(account_id, "id") if account_id is not None else str(uuid4())
        attributes = values.attributes(attributes)
        policy = self.policy_in_force("account-grading", self.clock().date())
        policy.check(attributes)
        if not actor.leads:
            self._member(actor.member_id, "member_id")
        name = values.text(name, "name", limit=200, single_line=True)
        industry = values.text(industry, "industry", required=False, limit=100, single_line=True)
        account = Account(account_id=aid, name=name, industry=industry, attributes=attributes,
                          actor=actor.member_id)
        account.grade_by(policy.grade(attributes), "registered", actor.member_id)
        if not actor.leads:
            account.add_to_team(actor.member_id, "account_manager", actor.member_id)
        try:
            return self._saved(aid, account, grade=account.grade)
        except IntegrityError:
            raise AccountAlreadyExists(f"account {aid} exists already", field="id") from None

    def change_account_attributes(self, actor: Actor, account_id: str, attributes: object) -> Recorded:
        """Change an account's attributes (merged; a null removes one); the grade follows."""
        changes = values.attributes(attributes)

        def decide(account: Account) -> None:
            self._require_team_or_lead(account, actor, "change its attributes")
            # read inside the turn, so a regrade by a new version is never overwritten by the old
            policy = self.policy_in_force("account-grading", self.clock().date())
            merged = _merged(account.attributes, changes)
            policy.check(merged)
            account.change_attributes(merged, actor.member_id)
            account.grade_by(policy.grade(merged), "attributes changed", actor.member_id)

        return self._account_change(account_id, decide, lambda a: (account_id, {"grade": a.grade}))

    def regrade_accounts(self, actor: Actor) -> Recorded:
        """Grade every account again by the account grading policy in force today."""
        if actor.role not in (*ROLES_THAT_SET_POLICY, *ROLES_THAT_LEAD):
            raise NotAllowed("only finance, a lead or an admin regrades the accounts")
        return self._regrade_accounts(actor.member_id)

    def regrade_opportunities(self, actor: Actor) -> Recorded:
        """Grade every open opportunity again by the opportunity grading policy in force today
        (a lead's override stands)."""
        if actor.role not in (*ROLES_THAT_SET_POLICY, *ROLES_THAT_LEAD):
            raise NotAllowed("only finance, a lead or an admin regrades the opportunities")
        return self._regrade_opportunities(actor.member_id)

    def add_account_team_member(self, actor: Actor, account_id: str, member_id: str,
                                role: str) -> Recorded:
        """Put a member on the account team (the virtual organisation) with a role."""
        self._member(member_id, "member_id")

        def decide(account: Account) -> None:
            self._require_manager_or_lead(account, actor, "change its team")
            account.add_to_team(member_id, role, actor.member_id)

        return self._account_change(account_id, decide)

    def remove_account_team_member(self, actor: Actor, account_id: str, member_id: str) -> Recorded:
        """Take a member off the account team."""

        def decide(account: Account) -> None:
            self._require_manager_or_lead(account, actor, "change its team")
            account.remove_from_team(member_id, actor.member_id)

        return self._account_change(account_id, decide)

    def account(self, account_id: str) -> dict:
        account = self._account(account_id)
        return {"id": account.account_id, "name": account.name, "grade": account.grade,
                "team": dict(account.team)}

    # -- account-plan tasks --------------------------------------------------------------------

    def create_task(self, actor: Actor, account_id: str, *, title: str, due: str,
                    assignee: str | None = None, task_id: UUID | None = None) -> Recorded:
        """Add a task to the account plan, assigned to a member or not yet."""
        account = self._account(account_id)
        self._require_team_or_lead(account, actor, "plan its tasks")
        if assignee is not None:
            self._member(assignee, "assignee")
        title = values.text(title, "title", limit=500, single_line=True)
        task = Task(account_id=account.account_id, title=title, assignee=assignee,
                    due=self._due(due).isoformat(), actor=actor.member_id,
                    **({"id": task_id} if task_id else {}))
        try:
            return self._saved(str(task.id), task, status=task.status)
        except IntegrityError:
            return Recorded(str(task.id), self._head(), {"status": self._task(task.id).status})

    def assign_task(self, actor: Actor, task_id: str, assignee: str) -> Recorded:
        """Give the task to a member (before it is done)."""
        self._member(assignee, "assignee")

        def decide(task: Task) -> None:
            self._require_team_or_lead(self._account(task.account_id), actor, "assign its tasks")
            task.assign(assignee, actor.member_id)

        return self._task_change(task_id, decide)

    def complete_task(self, actor: Actor, task_id: str, note: str | None = None) -> Recorded:
        """The assignee (or a lead) says the task is done."""
        note = values.text(note, "note", required=False)

        def decide(task: Task) -> None:
            if not actor.leads and actor.member_id != task.assignee:
                raise NotAllowed("only the assignee or a lead completes a task")
            task.complete(note, actor.member_id)

        return self._task_change(task_id, decide)

    def verify_task(self, actor: Actor, task_id: str) -> Recorded:
        """The account manager (or a lead), never the assignee, checks the work and closes the loop."""

        def decide(task: Task) -> None:
            self._require_checker(task, actor, "verify")
            task.verify(actor.member_id)

        return self._task_change(task_id, decide)

    def reopen_task(self, actor: Actor, task_id: str, reason: str) -> Recorded:
        """Send a done (or verified) task back to its assignee, with a reason."""
        reason = values.text(reason, "reason")

        def decide(task: Task) -> None:
            self._require_checker(task, actor, "reopen")
            task.reopen(reason, actor.member_id)

        return self._task_change(task_id, decide)

    # -- support requests ----------------------------------------------------------------------

    def open_request(self, actor: Actor, opportunity_id: str, *, kind: str, summary: str, due: str,
                     to_member: str | None = None, to_department: str | None = None,
                     request_id: UUID | None = None) -> Recorded:
        """The front office asks a member or a department for help on an opportunity."""
        if (to_member is None) == (to_department is None):
            raise InvalidInput("name exactly one of to_member or to_department", field="to_member")
        if to_member is not None:
            self._member(to_member, "to_member")
            if to_member == actor.member_id:
                raise InvalidInput("a request asks someone else for help, not its requester",
                                   field="to_member")
        else:
            _known_department(to_department, "to_department")
        kind = values.name(kind, "kind")
        summary = values.text(summary, "summary")
        due_on = self._due(due)
        opportunity = self._opportunity(opportunity_id)
        self._require_seen(opportunity, opportunity.id, actor, OpportunityNotFound, "opportunity_id",
                           opportunity_id)
        if not actor.leads and not opportunity.is_on(actor.member_id):
            raise NotAllowed("only the opportunity's team or a lead asks for support on it")
        opportunity.require_open("ask for support")
        request = SupportRequest(opportunity_id=opportunity.id, requested_by=actor.member_id,
                                 to_member=to_member, to_department=to_department, kind=kind,
                                 summary=summary, due=due_on.isoformat(), actor=actor.member_id,
                                 at=self.clock().isoformat(),
                                 seats=actor.leads or opportunity.triangle["AR"] == actor.member_id,
                                 **({"id": request_id} if request_id else {}))
        try:
            return self._saved(str(request.id), request, status="open")
        except IntegrityError:
            return Recorded(str(request.id), self._head(), {"status": self._request(request.id).status})

    def accept_request(self, actor: Actor, request_id: str, member_id: str | None = None) -> Recorded:
        """The addressee (or someone of the addressed department) takes the request on; they join
        the opportunity as a supporter. A lead may accept on a member's behalf."""
        request = self._visible_request(request_id, actor)
        if member_id is not None and not actor.leads and member_id != actor.member_id:
            raise NotAllowed("a member accepts only for themselves", field="member_id")
        if actor.leads and member_id is None and request.to_department is not None:
            raise InvalidInput(f"name the member of {request.to_department} who takes it on",
                               field="member_id")
        supporter = member_id or (request.to_member if actor.leads and request.to_member
                                  else actor.member_id)
        member = self._member(supporter, "member_id")
        if supporter == request.requested_by:  # the delivery is confirmed with no one else's check
            raise NotAllowed("the requester cannot take on their own request; someone else helps",
                             field="member_id")
        if request.to_member is not None and supporter != request.to_member:
            raise NotAllowed("the request is addressed to someone else: only its addressee takes it on",
                             field="member_id")
        if request.to_department is not None and member.department != request.to_department:
            raise NotAllowed("the request is addressed to another department: only a member of it "
                             "takes it on", field="member_id")

        def decide(opportunity: Opportunity, request: SupportRequest) -> None:
            opportunity.require_open("take on requests for it")
            request.accept(supporter, actor.member_id, at=self.clock().isoformat())
            self._seat_supporter(opportunity, request, supporter, actor)

        return self._request_change(request_id, decide)

    def decline_request(self, actor: Actor, request_id: str, reason: str) -> Recorded:
        """The addressee (or a lead) declines, with a reason."""
        reason = values.text(reason, "reason")
        request = self._visible_request(request_id, actor)
        self._require_addressee_or_lead(request, actor, "decline it")

        def decide(opportunity: Opportunity, request: SupportRequest) -> None:
            request.decline(reason, actor.member_id, at=self.clock().isoformat())

        return self._request_change(request_id, decide)

    def deliver_request(self, actor: Actor, request_id: str, *, summary: str | None = None,
                        hours: object = None, evidence_url: str | None = None) -> Recorded:
        """The supporter delivers; the work becomes their support_delivered contribution, pointing
        to the request (the evidence finance rewards the back office on). It counts once the AR or
        a lead, never the supporter, confirms it, as any contribution."""
        summary = values.text(summary, "summary", required=False)
        hours = _hours_worked(hours)
        evidence_url = values.evidence_url(evidence_url)
        self._visible_request(request_id, actor)

        def decide(opportunity: Opportunity, request: SupportRequest) -> None:
            request.require_state("delivered", ("accepted",))  # before accepting there is no supporter yet
            if not actor.leads and actor.member_id != request.supporter:
                raise NotAllowed("only the supporter who accepted the request (or a lead) delivers it")
            contribution_id, not_counted = None, None
            if opportunity.is_closed:
                not_counted = f"the opportunity was already {opportunity.stage}"
            else:
                contribution_id = str(uuid5(request.id, "delivered"))
                self._seat_supporter(opportunity, request, request.supporter, actor)
                roles = opportunity.roles_of(request.supporter)
                opportunity.record_contribution(
                    contribution_id=contribution_id, member_id=request.supporter,
                    role="SUPPORT" if "SUPPORT" in roles else roles[0], kind=SUPPORT_DELIVERED,
                    summary=summary or f"Delivered: {request.summary}", hours=hours,
                    occurred_at=self.clock(), evidence_url=evidence_url, actor=actor.member_id,
                    now=self.clock(), request_id=str(request.id))
            request.deliver(summary=summary, hours=hours, evidence_url=evidence_url,
                            contribution_id=contribution_id, not_counted=not_counted,
                            actor=actor.member_id, at=self.clock().isoformat())

        return self._request_change(request_id, decide,
                                    lambda request: {"contribution_id": request.contribution_id})

    @staticmethod
    def _seat_supporter(opportunity: Opportunity, request: SupportRequest, supporter: str,
                        actor: Actor) -> None:
        """Bring the supporter onto the deal, as its requester could have done directly: only a
        request of the AR or a lead (or a lead acting on it) seats someone new."""
        if opportunity.is_on(supporter):
            return
        seats = request.seats if getattr(request, "seats", None) is not None else (
            opportunity.triangle["AR"] == request.requested_by)
        if not (seats or actor.leads):
            raise NotAllowed("this request cannot bring a new member onto the opportunity: only "
                             "its AR or a lead adds supporters; ask them to add the supporter first",
                             field="member_id")
        opportunity.add_supporter(supporter, actor.member_id)

    def rate_request(self, actor: Actor, request_id: str, score: object,
                     comment: str | None = None) -> Recorded:
        """The requester, and only the requester, rates the delivered help from 1 to 5."""
        if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
            raise InvalidInput(f"must be a whole number from 1 to 5, got {score!r}", field="score")
        comment = values.text(comment, "comment", required=False)
        request = self._visible_request(request_id, actor)
        if actor.member_id != request.requested_by:
            raise NotAllowed("only the requester rates a request")

        def decide(opportunity: Opportunity, request: SupportRequest) -> None:
            request.rate(score, comment, actor.member_id, at=self.clock().isoformat())

        return self._request_change(request_id, decide)

    # -- the money: approval, cash, late facts, disputes, periods ------------------------------

    def approve_allocation(self, actor: Actor, allocation_id: str) -> Recorded:
        """Finance approves an allocation: its upfront parts (and what cash already released)
        become payable, in the period of the win date (or the current one if that is closed)."""
        self._require_finance(actor, "approves allocations")
        allocation = self._allocation(allocation_id)
        if actor.member_id in allocation.targets:
            raise NotAllowed("you have a line in this allocation: another member of finance approves it")

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
        if actor.role not in ("finance", "admin"):
            raise NotAllowed("only finance records payments")
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
                            lambda _: (pid, {"repeated": True} if repeated[0] else {}))

    def cancel_won_deal(self, actor: Actor, opportunity_id: str, reason: str) -> Recorded:
        """A won deal is cancelled: what was payable of it is clawed back in the current period."""
        self._require_finance(actor, "cancels won deals")
        reason = values.text(reason, "reason")

        def decide(opportunity: Opportunity) -> list[Aggregate]:
            opportunity.cancel(reason, self.clock().date(), actor.member_id)
            return self._follow_late_fact(opportunity, "cancellation", f"deal cancelled: {reason}",
                                          actor)

        return self._change(opportunity_id, decide)

    def refund(self, actor: Actor, opportunity_id: str, *, amount: object, reason: str,
               refund_id: str | None = None) -> Recorded:
        """Part of a won deal goes back to the customer: its pool and lines shrink accordingly."""
        self._require_finance(actor, "records refunds")
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
                            answer=lambda _: (str(did), {"status": raised[0].status}))

    def resolve_dispute(self, actor: Actor, dispute_id: str, *, decision: str, reason: str,
                        corrected_amount: object = None) -> Recorded:
        """Finance rejects a dispute (with a reason) or upholds it with the corrected amount of the
        line, which becomes an adjustment in the current period."""
        self._require_finance(actor, "resolves disputes")
        reason = values.text(reason, "reason")
        if decision not in ("reject", "uphold"):
            raise InvalidInput(f"{str(decision)[:20]!r} is not a decision; use reject or uphold",
                               field="decision")
        dispute = self._dispute(dispute_id)
        if dispute.member_id == actor.member_id:
            raise NotAllowed("nobody resolves their own dispute: another member of finance does")
        allocation = self._allocation(dispute.allocation_id)

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
        self._require_finance(actor, "closes periods")
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
            return self._saved(period, *periods, **report)
        except IntegrityError:
            raise ConcurrencyConflict("a period was booked into meanwhile; close again") from None

    # -- policies ------------------------------------------------------------------------------

    def add_policy(self, actor: Actor, kind: str, document: object) -> Recorded:
        """Add a validated, effective-dated version of a policy (finance or admin).

        A new account or opportunity grading version already in force regrades every account or
        open opportunity (each in its own transaction, right after the version is saved). The
        same document as the latest version again adds nothing: the answer names that version,
        and its regrade runs again (so a retry after a crash finishes it).
        """
        if actor.role not in ROLES_THAT_SET_POLICY:
            raise NotAllowed("only finance or an admin defines policies")
        book = self._policy_book(kind)
        policy = book.add_version(document, actor.member_id)
        regrade = {"account-grading": self._regrade_accounts,
                   "opportunity-grading": self._regrade_opportunities}.get(kind)
        regrades = regrade is not None and policy.effective_from <= self.clock().date()
        latest = book.versions()[-2] if len(book.documents) > 1 else None
        if latest is not None and _unversioned(latest.document()) == _unversioned(policy.document()):
            recorded = Recorded(str(latest.version), self._head(),
                                {"version": latest.version, "hash": latest.hash})
        else:
            try:  # the answer is kept with the version unless a regrade follows (it adds to it)
                recorded = self._saved(str(policy.version), book, answers=not regrades,
                                       version=policy.version, hash=policy.hash)
            except IntegrityError:
                raise ConcurrencyConflict("another version was added meanwhile; retry") from None
            self._policy_versions[kind] = (book.version, book.versions())
        if regrades:
            regraded = regrade(actor.member_id)
            return Recorded(recorded.id, max(recorded.position, regraded.position),
                            {**recorded.extra, "regraded": regraded.extra["regraded"]})
        return recorded

    def policies(self, kind: str) -> list[Any]:
        """Every version of a kind of policy, oldest first."""
        return list(self._versions(kind))

    def policy_in_force(self, kind: str, on: date, field: str = "date") -> Any:
        """The version of a kind of policy in force on a date."""
        policy = in_force(self._versions(kind), on)
        if policy is None:
            raise InvalidInput(f"no {kind} policy is in force on {on}", field=field)
        return policy

    def incentive_policy_in_force(self, on: date) -> IncentivePolicy:
        return self.policy_in_force("incentive", on, field="closed_on")

    # -- plumbing ------------------------------------------------------------------------------

    def _ensure_default_policies(self) -> None:
        for kind, document in DEFAULT_POLICY_DOCUMENTS.items():
            if PolicyBook.create_id(kind) in self.repository:
                continue
            book = PolicyBook(kind=kind, actor=SYSTEM)
            book.add_version(document, SYSTEM)
            try:
                self.save(book)
            except IntegrityError:
                pass  # another process created it first

    def _policy_book(self, kind: str) -> PolicyBook:
        if kind not in POLICY_KINDS:
            raise NotFound(f"no policy kind {kind!r}; known kinds: {', '.join(POLICY_KINDS)}",
                           field="kind")
        return self.repository.get(PolicyBook.create_id(kind), projector_func=_replayed)

    def _versions(self, kind: str) -> list[Any]:
        """The versions of a kind of policy, kept between commands (read on nearly every one).

        Another process may have added a version: one indexed read of the book's events after
        the version kept says whether it did, and only then is the book loaded again.
        """
        kept = self._policy_versions.get(kind)
        if kept is not None and not self.recorder.select_events(
                PolicyBook.create_id(kind), gt=kept[0], limit=1):
            return kept[1]
        book = self._policy_book(kind)
        versions = book.versions()
        self._policy_versions[kind] = (book.version, versions)
        return versions

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

    @staticmethod
    def _require_lead_after_win(opportunity: Opportunity, actor: Actor, doing: str) -> None:
        """After the win a change moves money at once: a lead's call, not the AR's."""
        if opportunity.stage == "won" and not actor.leads:
            raise NotAllowed(f"the deal is won: only a lead may {doing} now (it books adjustments)")

    @staticmethod
    def _require_finance(actor: Actor, doing: str) -> None:
        if actor.role != "finance":
            raise NotAllowed(f"only finance {doing}")

    def _allocation(self, allocation_id: str | UUID) -> Allocation:
        aid = values.identifier(allocation_id, "allocation", AllocationNotFound)
        return self._get(aid, Allocation, AllocationNotFound, "allocation_id", allocation_id)

    def _ask(self, ask_id: str | UUID) -> Ask:
        aid = values.identifier(ask_id, "ask", AskNotFound)
        return self._get(aid, Ask, AskNotFound, "ask_id", ask_id)

    def _dispute(self, dispute_id: str | UUID) -> Dispute:
        did = values.identifier(dispute_id, "dispute", DisputeNotFound)
        return self._get(did, Dispute, DisputeNotFound, "dispute_id", dispute_id)

    def _period(self, month: str) -> Period:
        try:
            return self.repository.get(Period.create_id(month), projector_func=_replayed)
        except AggregateNotFoundError:
            return Period(month=month)

    def _money_change(self, allocation: Allocation, decide: Callable[[Opportunity], Sequence[Aggregate]],
                      ident: str | None = None) -> Recorded:
        """Change an allocation (and what goes with it) in its opportunity's turn; the answer
        names the allocation, or `ident`."""
        return self._change(str(allocation.opportunity_id), decide,
                            answer=lambda _: (ident or str(allocation.id), {}))

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

    def _require_lead_for_strategic(self, actor: Actor, attributes: dict,
                                    opportunity: Opportunity | None = None) -> None:
        """Strategic attributes raise the grade, and the grade sets the pool rate: a lead's call,
        by a lead with no stake in the deal."""
        policy = self.policy_in_force("opportunity-grading", self.clock().date())
        strategic = sorted(set(attributes) & set(policy.strategic_attributes))
        if not strategic:
            return
        if not actor.leads:
            raise NotAllowed(f"{strategic[0]} raises the grade, which sets the pool rate: only a lead "
                             "sets it", field=f"attributes.{strategic[0]}")
        if opportunity is not None and opportunity.has_stake(actor.member_id):
            raise LeadsCall(f"{strategic[0]} raises the grade of a deal you have a stake in: another "
                            "lead sets it", field=f"attributes.{strategic[0]}")

    def _require_lead_call(self, opportunity: Opportunity, actor: Actor, calls: Sequence[str],
                           field: str, reason: str | None) -> None:
        """Four eyes: a fact that would raise its decider's own amount or lower a teammate's is
        decided by a lead with no stake in the deal (no seat, no work), with a reason."""
        if not calls:
            return
        what = LEAD_CALLS[calls[0]]
        if not actor.leads:
            raise LeadsCall(f"{what}: that is a lead's call; the AR may ask a lead "
                            f"(POST /v1/opportunities/{opportunity.id}/asks)", field=field)
        if opportunity.has_stake(actor.member_id):
            raise LeadsCall(f"{what}: you have a stake in this deal, so another lead decides it",
                            field=field)
        if reason is None:
            raise InvalidInput(f"{what}: a lead's call needs a reason", field="reason")

    def _regrade_accounts(self, actor: str) -> Recorded:
        policy = self.policy_in_force("account-grading", self.clock().date())

        def regrade(account: Account) -> None:
            account.grade_by(policy.grade(account.attributes), f"policy version {policy.version}", actor)

        return self._regrade(Account.Registered, self._account, regrade)

    def _regrade_opportunities(self, actor: str) -> Recorded:
        policy = self.policy_in_force("opportunity-grading", self.clock().date())

        def regrade(opportunity: Opportunity) -> None:
            if not opportunity.is_closed:
                opportunity.grade_by(policy.grade(opportunity.amount, opportunity.currency,
                                                  opportunity.attributes), actor)

        return self._regrade(Opportunity.Opened, self._opportunity, regrade)

    def _regrade(self, created: type, load: Callable[[UUID], Any],
                 regrade: Callable[[Any], None]) -> Recorded:
        """Grade again every aggregate created by `created`; how many changed, and the head."""
        position = self._head()
        changed: dict[UUID, bool] = {}

        def decide(aggregate: Any) -> None:
            regrade(aggregate)
            changed[aggregate.id] = bool(aggregate.pending_events)  # the last attempt is the one saved

        for aggregate_id in self._created(created):
            recorded = self._update(aggregate_id, load, decide, answers=False)  # not the answer
            position = max(position, recorded.position)
        regraded = sum(changed.values())
        return Recorded("regrade", position, {"regraded": regraded})

    def _created(self, created: type) -> list[UUID]:
        """The ids of every aggregate whose first event is of this class, oldest first."""
        topic = f"{created.__module__}:{created.__qualname__}"
        ids, start = [], 1
        while True:
            batch = self.recorder.select_notifications(start, 500, topics=[topic])
            ids += [n.originator_id for n in batch]
            if len(batch) < 500:
                return ids
            start = batch[-1].id + 1

    def _due(self, due: object) -> date:
        on = values.iso_date(due, "due")
        if on < self.clock().date():
            raise InvalidInput(f"{on} is in the past", field="due")
        return on

    def _account_id(self, account_id: str) -> UUID:
        return Account.create_id(str(account_id))

    def _account(self, account_id: str | UUID) -> Account:
        aid = account_id if isinstance(account_id, UUID) else self._account_id(account_id)
        return self._get(aid, Account, AccountNotFound, "account_id", account_id)

    def _task(self, task_id: str | UUID) -> Task:
        tid = values.identifier(task_id, "task", TaskNotFound)
        return self._get(tid, Task, TaskNotFound, "task_id", task_id)

    def _request(self, request_id: str | UUID) -> SupportRequest:
        rid = values.identifier(request_id, "request", RequestNotFound)
        return self._get(rid, SupportRequest, RequestNotFound, "request_id", request_id)

    def _account_change(self, account_id: str, decide: Callable[[Account], None],
                        answer: Answer | None = None) -> Recorded:
        return self._update(self._account_id(account_id), lambda _: self._account(account_id), decide,
                            ident=str(account_id), answer=answer)

    def _task_change(self, task_id: str, decide: Callable[[Task], None]) -> Recorded:
        task = self._task(task_id)
        return self._update(task.id, self._task, decide, ident=str(task.id))

    def _request_change(self, request_id: str,
                        decide: Callable[[Opportunity, SupportRequest], None],
                        extra: Callable[[SupportRequest], dict] = lambda _: {}) -> Recorded:
        """Change a request and its opportunity together, in the opportunity's turn; the answer
        names the request, with the `extra` fields read from it once changed."""
        request = self._request(request_id)
        decided: list[SupportRequest] = []

        def both(opportunity: Opportunity) -> list[Aggregate]:
            fresh = self._request(request.id)
            decide(opportunity, fresh)
            decided[:] = [fresh]
            return [fresh] if fresh.pending_events else []

        return self._change(str(request.opportunity_id), both,
                            answer=lambda _: (str(request.id), extra(decided[0])))

    @staticmethod
    def _require_team_or_lead(account: Account, actor: Actor, doing: str) -> None:
        if not actor.leads and actor.member_id not in account.team:
            raise NotAllowed(f"only the account team or a lead may {doing}")

    @staticmethod
    def _require_manager_or_lead(account: Account, actor: Actor, doing: str) -> None:
        if not actor.leads and actor.member_id not in account.managers():
            raise NotAllowed(f"only the account manager or a lead may {doing}")

    def _require_checker(self, task: Task, actor: Actor, doing: str) -> None:
        if actor.member_id == task.assignee:
            raise NotAllowed(f"the assignee cannot {doing} their own task; the account manager "
                             "or a lead does")
        self._require_manager_or_lead(self._account(task.account_id), actor, f"{doing} tasks")

    def _require_addressee_or_lead(self, request: SupportRequest, actor: Actor, doing: str) -> None:
        if actor.leads or actor.member_id == request.to_member:
            return
        if request.to_department is not None and \
                self._member(actor.member_id, "member_id").department == request.to_department:
            return
        raise NotAllowed(f"only the addressee of the request or a lead may {doing}")

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
            aggregate = self.repository.get(aggregate_id, projector_func=_replayed)
        except AggregateNotFoundError:
            aggregate = None
        if not isinstance(aggregate, cls):
            raise self._missing(cls, not_found, field_name, given)
        return aggregate

    @staticmethod
    def _missing(cls: type, not_found: type[NotFound], field_name: str, given: object) -> NotFound:
        return not_found(f"no {NAMES.get(cls, cls.__name__.lower())} {given}", field=field_name)

    def _require_seen(self, found: Any, opportunity_id: UUID, actor: Actor,
                      not_found: type[NotFound], field_name: str, given: object) -> None:
        """Who sees a deal (as who reads its board): its team now or ever, leads, finance,
        auditors and admins. To anyone else it and what belongs to it do not exist: the same 404
        as an id that names nothing, so a refusal never tells them it exists."""
        if actor.role in ROLES_THAT_SEE_EVERY_DEAL:
            return
        opportunity = found if isinstance(found, Opportunity) else self._opportunity(opportunity_id)
        if not opportunity.is_on(actor.member_id) and not any(
                h["member_id"] == actor.member_id for h in opportunity.triangle_history):
            raise self._missing(type(found), not_found, field_name, given)

    def _visible_request(self, request_id: str, actor: Actor) -> SupportRequest:
        """The request, if the actor may see it: whoever may see its deal, its requester, its
        addressee or a member of the department it is addressed to, its supporter."""
        request = self._request(request_id)
        if actor.role in ROLES_THAT_SEE_EVERY_DEAL or actor.member_id in (
                request.requested_by, request.to_member, request.supporter):
            return request
        if request.to_department is None or self._department(actor.member_id) != request.to_department:
            self._require_seen(request, request.opportunity_id, actor, RequestNotFound, "request_id",
                               request_id)
        return request

    def _department(self, member_id: str) -> str | None:
        try:
            return self._member(member_id, "member_id").department
        except MemberNotFound:
            return None

    def _regrade_open(self, opportunity: Opportunity, actor: Actor, grade: str | None = None,
                      release: bool = False, reason: str | None = None) -> None:
        """Grade an open deal again by the policy in force (or a lead's `grade`) after a change."""
        grading = self._opportunity_grading(opportunity.amount, opportunity.currency,
                                            opportunity.attributes, override=grade, actor=actor,
                                            reason=reason)
        opportunity.grade_by(grading, actor.member_id, overridden=grade is not None, release=release)

    @staticmethod
    def _require_one_seat(opportunity: Opportunity, actor: Actor, member_id: str, keeping: str) -> None:
        """One member holds one seat (AR, SR, FR or supporter) unless a lead seats them."""
        others = [r for r in opportunity.roles_of(member_id) if r != keeping]
        if others and not actor.leads:
            raise NotAllowed(f"this member holds the {others[0]} seat already; one member holds one "
                             "seat unless a lead seats them", field="member_id")

    @staticmethod
    def _require_ar_or_lead(opportunity: Opportunity, actor: Actor, doing: str) -> None:
        if not actor.leads and opportunity.triangle["AR"] != actor.member_id:
            raise NotAllowed(f"only the AR of this opportunity or a lead may {doing}")

    def _change(self, opportunity_id: str,
                decide: Callable[[Opportunity], Sequence[Aggregate] | None],
                actor: Actor | None = None, answer: Answer | None = None) -> Recorded:
        """Load the opportunity, decide, save it with what `decide` returns, in one transaction;
        to an `actor` who may not see it, it does not exist."""
        oid = values.identifier(opportunity_id, "opportunity", OpportunityNotFound)

        def seen(opportunity: Opportunity) -> Sequence[Aggregate] | None:
            if actor is not None:
                self._require_seen(opportunity, oid, actor, OpportunityNotFound, "opportunity_id", oid)
            return decide(opportunity)

        return self._update(oid, self._opportunity, seen, answer=answer)

    def _update(self, aggregate_id: UUID, load: Callable[[UUID], Any],
                decide: Callable[[Any], Sequence[Aggregate] | None],
                ident: str | None = None, answer: Answer | None = None,
                answers: bool = True) -> Recorded:
        """Load, decide, save (with the other aggregates `decide` returns), in one transaction.

        The command answers `{ident}`, or what `answer(aggregate)` gives once `decide` has run (the
        id it acted on and the extra fields), saved with the events (see `_saved`).
        Writers in this process take turns per aggregate; a writer in another process that got
        there first makes us load and decide again on the new state.
        """
        ident = ident or str(aggregate_id)
        with self._writers[aggregate_id.int % len(self._writers)]:
            for attempt in range(ATTEMPTS):
                aggregate = self._kept_up_to_date(aggregate_id) or load(aggregate_id)
                others = decide(aggregate) or ()
                said, extra = answer(aggregate) if answer else (ident, {})
                if not aggregate.pending_events and not others:  # nothing changed
                    self._keep(aggregate)
                    return Recorded(said, self._head(), extra)
                try:
                    recorded = self._saved(said, aggregate, *others, answers=answers, **extra)
                except IntegrityError:
                    time.sleep(random.uniform(0, min(0.005 * 2**attempt, 0.2)))
                else:
                    self._keep(aggregate)
                    return recorded
        raise ConcurrencyConflict(f"the {type(aggregate).__name__.lower()} kept changing; retry")

    def _keep(self, aggregate: Any) -> None:
        """Keep an aggregate as it was just saved (or loaded, unchanged) for this process's next
        command on it. Only `_update` hands it out, under the aggregate's writer lock, and takes
        it back after a save: a command that fails leaves nothing half-applied behind."""
        with self._kept_lock:
            self._kept.pop(aggregate.id, None)
            self._kept[aggregate.id] = aggregate
            while len(self._kept) > KEPT_AGGREGATES:
                del self._kept[next(iter(self._kept))]

    def _kept_up_to_date(self, aggregate_id: UUID) -> Any | None:
        """The kept aggregate with whatever was saved after it (by any process), or None.

        One read of the events after its version instead of a snapshot, the events after the
        snapshot and their replay (a fifth of a command's CPU on a busy opportunity)."""
        with self._kept_lock:
            aggregate = self._kept.pop(aggregate_id, None)
        if aggregate is None:
            return None
        try:
            return _replayed(aggregate, self.events.get(aggregate_id, gt=aggregate.version))
        except Exception:  # whatever went wrong, a fresh load decides
            log.warning("a kept %s could not be brought up to date; loading it afresh",
                        type(aggregate).__name__, exc_info=True)
            return None

    def _saved(self, ident: str, *aggregates: Any, answers: bool = True, **extra: Any) -> Recorded:
        """Save, and answer `{ident, position, **extra}`. The answer goes to the store with the
        events, so a store that keeps a keyed request's answer commits it in their transaction
        (projections/answers.py); a save that is not its command's last passes `answers=False`."""
        answer = Recorded(ident, 0, extra)
        recordings = self.save(*aggregates, answer=answer) if answers else self.save(*aggregates)
        return answer.at(recordings[-1].notification.id)

    def _head(self) -> int:
        return self.recorder.max_notification_id() or 0

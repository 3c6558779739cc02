"""Aggregates and their events. Public methods validate and decide; private @event methods only assign.

The private bodies re-run on every replay: they must not validate, read the clock or call out.
Dates and times travel in events as ISO strings and money as integer minor units, so the stored
bytes are canonical for the audit chain.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, ClassVar
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.exceptions import (
    AllocationAlreadyApproved,
    Conflict,
    ContributionAlreadyConfirmed,
    ContributionAlreadyRecorded,
    ContributionAlreadyReversed,
    ContributionNotFound,
    ContributorNotOnOpportunity,
    InvalidInput,
    NotOnAccountTeam,
    OpportunityClosed,
    PeriodClosed,
    SupporterAlreadyAdded,
    TransitionRefused,
)
from domain.grading import (
    DEFAULT_ACCOUNT_GRADING_DOCUMENT,
    DEFAULT_OPPORTUNITY_GRADING_DOCUMENT,
    AccountGradingPolicy,
    Grading,
    OpportunityGradingPolicy,
)
from domain.policy import DEFAULT_INCENTIVE_DOCUMENT, TRIANGLE_ROLES, IncentivePolicy, Versioned
from domain.relationship import DEFAULT_RELATIONSHIP_STANDARD_DOCUMENT, Assessed, RelationshipStandard

GOLDSPLIT = uuid5(NAMESPACE_URL, "https://goldsplit.example/ids")
DEPARTMENTS = ("sales", "presales", "delivery", "finance", "commercial", "rnd", "management")
ACCOUNT_TEAM_ROLES = ("account_manager", "solution_lead", "delivery_lead", "commercial", "finance",
                      "executive_sponsor", "member")


def event_id(originator_id: UUID, originator_version: int) -> UUID:
    """The stable id of one stored event (what explain and the audit trail cite)."""
    return uuid5(originator_id, str(originator_version))


class Member(Aggregate):
    """A person on the selling team, with a department."""

    @staticmethod
    def create_id(member_id: str) -> UUID:
        return uuid5(GOLDSPLIT, f"member:{member_id}")

    @event("Registered")
    def __init__(self, member_id: str, name: str, department: str, actor: str,
                 team: str | None = None, employee_id: str | None = None,
                 cost_center: str | None = None) -> None:
        self.member_id = member_id
        self.name = name
        self.department = department
        self.team = team or department
        self.employee_id = employee_id  # for payroll; events before it replay with None
        self.cost_center = cost_center


class Opportunity(Aggregate):
    """A potential deal on an account, its triangle, supporters and recorded work."""

    @event("Opened")
    def __init__(self, account_id: str, name: str, amount: int, currency: str,
                 expected_close: str, grade: str, attributes: dict, actor: str,
                 id: UUID | None = None) -> None:  # noqa: A002 - eventsourcing's caller-chosen id
        self.account_id = account_id
        self.name = name
        self.amount = amount
        self.currency = currency
        self.expected_close = expected_close
        self.grade = grade
        self.attributes = attributes
        self.stage = "open"
        self.triangle: dict[str, str | None] = {r: None for r in TRIANGLE_ROLES}
        self.triangle_history: list[dict] = []
        self.supporters: list[str] = []
        self.contributions: dict[str, dict] = {}
        self.closed_on: str | None = None
        self.required_roles: list[str] = []
        self.grade_overridden = False
        self.grading_policy: dict | None = None
        self.assessments: list[dict] = []
        self.cash = 0  # collected on the won deal, net of refunds, in minor units
        self.payments: dict[str, dict] = {}
        self.refunds: dict[str, dict] = {}

    # -- queries -------------------------------------------------------------------------------

    @property
    def is_closed(self) -> bool:
        return self.stage != "open"

    def roles_of(self, member_id: str) -> list[str]:
        """The roles a member holds on this opportunity now, triangle first."""
        roles = [r for r in TRIANGLE_ROLES if self.triangle[r] == member_id]
        if member_id in self.supporters:
            roles.append("SUPPORT")
        return roles

    def contribution(self, contribution_id: str) -> dict:
        try:
            return self.contributions[contribution_id]
        except KeyError:
            raise ContributionNotFound(
                f"no contribution {contribution_id} on this opportunity", field="contribution_id"
            ) from None

    def require_open(self, doing: str) -> None:
        """Refuse `doing` once the deal is won or lost."""
        if self.is_closed:
            raise OpportunityClosed(f"the opportunity is {self.stage}; cannot {doing}")

    def is_on(self, member_id: str) -> bool:
        return bool(self.roles_of(member_id))

    def has_stake(self, member_id: str) -> bool:
        """Whether the member's amount depends on this deal: a seat, or work not reversed."""
        return self.is_on(member_id) or any(
            c["member_id"] == member_id and c["status"] != "reversed"
            for c in self.contributions.values())

    def confirmed_after(self, day: date) -> list[dict]:
        """Confirmed work that occurred after `day` (a close date then would exclude it)."""
        return [c for c in self.contributions.values() if c["status"] == "confirmed"
                and datetime.fromisoformat(c["occurred_at"]).date() > day]

    def open_dispute_of(self, member_id: str) -> str | None:
        """The id of the member's open dispute on this deal's allocation, if they have one."""
        return getattr(self, "open_disputes", {}).get(member_id)  # snapshots before disputes were noted

    # -- commands ------------------------------------------------------------------------------

    def grade_by(self, grading: Grading, actor: str, overridden: bool = False,
                  release: bool = False) -> None:
        """Take a grade (and the roles it requires), with the policy version that gave it.

        A lead's override stands until a lead overrides again or `release`s it to the policy.
        """
        if self.grade_overridden and not overridden and not release:
            return
        if (self.grade, self.required_roles, self.grade_overridden, self.grading_policy) == (
                grading.grade, list(grading.required_roles), overridden, dict(grading.policy)):
            return
        self._graded(grade=grading.grade, required_roles=list(grading.required_roles),
                     reasons=list(grading.reasons), policy=dict(grading.policy),
                     overridden=overridden, actor=actor)

    @event("Graded")
    def _graded(self, grade: str, required_roles: list[str], reasons: list[str], policy: dict,
                overridden: bool, actor: str) -> None:
        self.grade = grade
        self.required_roles = list(required_roles)
        self.grade_overridden = overridden
        self.grading_policy = policy

    def correct(self, *, amount: int | None, expected_close: str | None, attributes: dict | None,
                actor: str, reason: str | None = None) -> None:
        """Correct the deal's facts while it is open; of a won deal, only its amount (a late fact
        its allocation follows)."""
        if self.stage == "won" and expected_close is None and attributes is None:
            if amount is not None and amount < self.cash:
                raise InvalidInput(f"is below the cash already collected ({self.cash} minor units)",
                                   field="amount")
        else:
            self.require_open("correct it")
        amount = self.amount if amount is None else amount
        expected_close = expected_close or self.expected_close
        attributes = self.attributes if attributes is None else attributes
        if (amount, expected_close, attributes) == (self.amount, self.expected_close, self.attributes):
            return
        self._corrected(amount=amount, expected_close=expected_close, attributes=attributes,
                        actor=actor, **({"reason": reason} if reason else {}))

    @event("Corrected")
    def _corrected(self, amount: int, expected_close: str, attributes: dict, actor: str,
                   reason: str | None = None) -> None:
        self.amount = amount
        self.expected_close = expected_close
        self.attributes = attributes

    def already_upserted(self, mark: dict) -> bool:
        """Whether a CRM upsert at `mark` ({topic, partition, offset}) or a later one of the same
        partition was applied here already (a consumer replaying after a crash sends it again)."""
        seen = getattr(self, "upsert_mark", None)  # snapshots taken before marks existed lack it
        return (seen is not None and (seen["topic"], seen["partition"]) == (mark["topic"], mark["partition"])
                and seen["offset"] >= mark["offset"])

    def note_upsert(self, mark: dict) -> None:
        """Remember the CRM upsert whose effect is saved with this one, so that it applies once."""
        self._upsert_applied(mark=dict(mark))

    @event("UpsertApplied")
    def _upsert_applied(self, mark: dict) -> None:
        self.upsert_mark = mark

    def assess(self, *, assessment_id: str, answers: dict, assessed: Assessed, standard: dict,
               actor: str, at: str | None = None) -> None:
        self.require_open("assess it")
        self._assessed(assessment_id=assessment_id, answers=answers, score=assessed.score,
                       win_probability=str(assessed.win_probability), scores=dict(assessed.scores),
                       standard=standard, actor=actor, at=at)

    @event("Assessed")
    def _assessed(self, assessment_id: str, answers: dict, score: int, win_probability: str,
                  scores: dict, standard: dict, actor: str, at: str | None = None) -> None:
        self.assessments.append({"id": assessment_id, "score": score,
                                 "win_probability": win_probability, "standard": standard})

    def assign_role(self, role: str, member_id: str, actor: str) -> None:
        if role not in TRIANGLE_ROLES:
            raise InvalidInput(f"{role!r} is not a triangle role; use AR, SR or FR", field="role")
        self.require_open("change the triangle")
        if self.triangle[role] == member_id:
            return
        self._role_assigned(role=role, member_id=member_id, previous=self.triangle[role], actor=actor)

    @event("TriangleRoleAssigned")
    def _role_assigned(self, role: str, member_id: str, previous: str | None, actor: str) -> None:
        self.triangle[role] = member_id
        self.triangle_history.append({"role": role, "member_id": member_id, "previous": previous})

    def add_supporter(self, member_id: str, actor: str) -> None:
        self.require_open("add a supporter")
        if member_id in self.supporters:
            raise SupporterAlreadyAdded("this member supports this opportunity already", field="member_id")
        self._supporter_added(member_id=member_id, actor=actor)

    @event("SupporterAdded")
    def _supporter_added(self, member_id: str, actor: str) -> None:
        self.supporters.append(member_id)

    def record_contribution(self, *, contribution_id: str, member_id: str, role: str | None,
                            kind: str, summary: str, hours: str, occurred_at: datetime,
                            evidence_url: str | None, actor: str, now: datetime,
                            request_id: str | None = None) -> None:
        if contribution_id in self.contributions:  # first: a repeat is a repeat, open or not
            raise ContributionAlreadyRecorded(f"contribution {contribution_id} is already recorded")
        self.require_open("record contributions")
        held = self.roles_of(member_id)
        if not held:
            raise ContributorNotOnOpportunity(
                "the member is neither in the triangle nor a supporter of this opportunity",
                field="member_id")
        if role is None:
            role = held[0]
        elif role not in held:
            raise InvalidInput(f"the member does not hold role {role} here (holds {held})", field="role")
        if occurred_at > now:
            raise InvalidInput("is in the future", field="occurred_at")
        self._contribution_recorded(
            contribution_id=contribution_id, member_id=member_id, role=role, kind=kind,
            summary=summary, hours=hours, occurred_at=occurred_at.isoformat(),
            evidence_url=evidence_url, actor=actor,
            **({"request_id": request_id} if request_id else {}))

    @event("ContributionRecorded")
    def _contribution_recorded(self, contribution_id: str, member_id: str, role: str, kind: str,
                               summary: str, hours: str, occurred_at: str,
                               evidence_url: str | None, actor: str,
                               request_id: str | None = None) -> None:
        self.contributions[contribution_id] = {
            "id": contribution_id, "member_id": member_id, "role": role,
            "kind": kind, "summary": summary, "hours": hours, "occurred_at": occurred_at,
            "evidence_url": evidence_url, "status": "recorded", "request_id": request_id,
            # The body runs before the aggregate's version moves to this event's version.
            "event_id": str(event_id(self.id, self.version + 1)),
        }

    def confirm_contribution(self, contribution_id: str, actor: str) -> None:
        contribution = self.contribution(contribution_id)
        self.require_open("confirm contributions")
        if contribution["status"] == "reversed":
            raise ContributionAlreadyReversed(f"contribution {contribution_id} was reversed")
        if contribution["status"] == "confirmed":
            raise ContributionAlreadyConfirmed(f"contribution {contribution_id} is already confirmed")
        self._contribution_confirmed(contribution_id=contribution_id, actor=actor)

    @event("ContributionConfirmed")
    def _contribution_confirmed(self, contribution_id: str, actor: str) -> None:
        self.contributions[contribution_id]["status"] = "confirmed"

    def reverse_contribution(self, contribution_id: str, reason: str, actor: str) -> None:
        """Reverse a contribution, also after the win (a late fact the allocation follows)."""
        contribution = self.contribution(contribution_id)
        if self.stage != "won":
            self.require_open("reverse contributions")
        if contribution["status"] == "reversed":
            raise ContributionAlreadyReversed(f"contribution {contribution_id} was reversed already")
        if not reason.strip():
            raise InvalidInput("a reversal needs a reason", field="reason")
        self._contribution_reversed(contribution_id=contribution_id, reason=reason, actor=actor)

    @event("ContributionReversed")
    def _contribution_reversed(self, contribution_id: str, reason: str, actor: str) -> None:
        self.contributions[contribution_id]["status"] = "reversed"
        self.contributions[contribution_id]["reversal_reason"] = reason

    def win(self, amount: int, closed_on: date, actor: str, today: date, *, at: str | None = None,
            reason: str | None = None, lead_call: list[str] | None = None) -> None:
        """Win the deal; `lead_call` names why it was a lead's call (decided with `reason`)."""
        self.require_open("win it")
        if closed_on > today:
            raise InvalidInput("is in the future", field="closed_on")
        self._won(amount=amount, closed_on=closed_on.isoformat(), actor=actor,
                  **({"at": at} if at else {}),
                  **({"reason": reason, "lead_call": list(lead_call)} if lead_call else {}))

    @event("Won")
    def _won(self, amount: int, closed_on: str, actor: str, at: str | None = None,
             reason: str | None = None, lead_call: list[str] | None = None) -> None:
        self.stage = "won"
        self.amount = amount
        self.closed_on = closed_on

    def lose(self, reason: str, closed_on: date, actor: str, today: date) -> None:
        self.require_open("lose it")
        if closed_on > today:
            raise InvalidInput("is in the future", field="closed_on")
        if not reason.strip():
            raise InvalidInput("a lost deal needs a reason", field="reason")
        self._lost(reason=reason, closed_on=closed_on.isoformat(), actor=actor)

    @event("Lost")
    def _lost(self, reason: str, closed_on: str, actor: str) -> None:
        self.stage = "lost"
        self.closed_on = closed_on
        self.loss_reason = reason

    # -- after the win: cash, cancellation, refunds ------------------------------------------

    def note_approval(self, allocation_id: str, actor: str) -> None:
        """The split was approved: recorded here too, so a payment racing the approval conflicts
        with it in the store instead of slipping past it."""
        self._split_approved(allocation_id=allocation_id, actor=actor)

    @event("SplitApproved")
    def _split_approved(self, allocation_id: str, actor: str) -> None:
        self.split_approved = True

    def note_dispute(self, dispute_id: str, member_id: str, actor: str) -> None:
        """A member disputed their line: one open dispute per member per line."""
        if self.open_dispute_of(member_id) is not None:
            raise Conflict("you have an open dispute on this line already; it is resolved first",
                           field="member_id")
        self._dispute_opened(dispute_id=dispute_id, member_id=member_id, actor=actor)

    @event("DisputeOpened")
    def _dispute_opened(self, dispute_id: str, member_id: str, actor: str) -> None:
        self.open_disputes = {**getattr(self, "open_disputes", {}), member_id: dispute_id}

    def note_dispute_resolved(self, dispute_id: str, member_id: str, actor: str) -> None:
        if self.open_dispute_of(member_id) == dispute_id:
            self._dispute_resolved(dispute_id=dispute_id, member_id=member_id, actor=actor)

    @event("DisputeResolved")
    def _dispute_resolved(self, dispute_id: str, member_id: str, actor: str) -> None:
        self.open_disputes = {m: d for m, d in getattr(self, "open_disputes", {}).items() if m != member_id}

    def _require_won(self, doing: str) -> None:
        if self.stage != "won":
            raise OpportunityClosed(f"the opportunity is {self.stage}; only a won deal can {doing}")

    def receive_payment(self, *, payment_id: str, amount: int, received_on: date, actor: str,
                        source: str | None = None) -> bool:
        """Record cash collected on the won deal; False if this payment is already recorded."""
        self._require_won("receive payments")
        if payment_id in self.payments:
            if self.payments[payment_id] != {"amount": amount, "received_on": received_on.isoformat()}:
                raise Conflict(f"payment {payment_id} is recorded already with another amount or date",
                               field="payment_id")
            return False
        outstanding = self.amount - self.cash
        if amount > outstanding:
            raise InvalidInput(f"is over the outstanding amount ({outstanding} minor units)",
                               field="amount")
        if received_on < date.fromisoformat(self.closed_on or "2000-01-01"):
            raise InvalidInput(f"is before the deal was won ({self.closed_on})", field="received_on")
        self._payment_received(payment_id=payment_id, amount=amount,
                               received_on=received_on.isoformat(), source=source, actor=actor)
        return True

    @event("PaymentReceived")
    def _payment_received(self, payment_id: str, amount: int, received_on: str, source: str | None,
                          actor: str) -> None:
        self.payments[payment_id] = {"amount": amount, "received_on": received_on}
        self.cash += amount

    def cancel(self, reason: str, cancelled_on: date, actor: str) -> None:
        """The won deal is cancelled: nothing of it is payable any more."""
        self._require_won("be cancelled")
        if not reason.strip():
            raise InvalidInput("a cancellation needs a reason", field="reason")
        self._cancelled(reason=reason, cancelled_on=cancelled_on.isoformat(), actor=actor)

    @event("Cancelled")
    def _cancelled(self, reason: str, cancelled_on: str, actor: str) -> None:
        self.stage = "cancelled"

    def refund(self, *, refund_id: str, amount: int, refunded_on: date, reason: str,
               actor: str) -> bool:
        """Part of the won amount goes back to the customer: the deal (and its cash) shrink; False
        if this refund is already recorded."""
        self._require_won("be refunded")
        if refund_id in self.refunds:
            if self.refunds[refund_id]["amount"] != amount:
                raise Conflict(f"refund {refund_id} is recorded already with another amount",
                               field="refund_id")
            return False
        if amount >= self.amount:
            raise InvalidInput("refunds the whole deal; cancel it instead", field="amount")
        if amount > self.cash:
            raise InvalidInput(f"is over the cash collected ({self.cash} minor units)", field="amount")
        self._refunded(refund_id=refund_id, amount=amount, refunded_on=refunded_on.isoformat(),
                       reason=reason, actor=actor)
        return True

    @event("Refunded")
    def _refunded(self, refund_id: str, amount: int, refunded_on: str, reason: str, actor: str) -> None:
        self.refunds[refund_id] = {"amount": amount, "refunded_on": refunded_on}
        self.amount -= amount
        self.cash -= amount


class Allocation(Aggregate):
    """The split of a won deal's bonus pool, as proposed by the policy in force on the close date."""

    @staticmethod
    def create_id(opportunity_id: UUID) -> UUID:
        return uuid5(opportunity_id, "allocation")

    @event("Proposed")
    def __init__(self, opportunity_id: UUID, currency: str, result: dict, policy: dict,
                 actor: str) -> None:
        self.opportunity_id = opportunity_id
        self.currency = currency
        self.result = result  # as proposed, then as approved
        self.latest = result  # as the facts stand now
        self.policy = policy
        self.status = "proposed"
        self.targets: dict[str, dict[str, int]] = {
            line["member_id"]: {"upfront": line["upfront"], "held": line["held"]}
            for line in result["lines"]}
        self.paid: dict[str, dict[str, int]] = {}
        self.overrides: dict[str, int] = {}
        self.causes: set[str] = set()
        self.pool: int = result["pool"]  # as the facts stand (a late fact recomputes it)

    @property
    def approved(self) -> bool:
        return self.status == "approved"

    def approve(self, entries: list[dict], actor: str, at: str) -> None:
        if self.approved:
            raise AllocationAlreadyApproved("the allocation is approved already")
        self._approved(entries=entries, actor=actor, at=at)

    @event("Approved")
    def _approved(self, entries: list[dict], actor: str, at: str) -> None:
        self.status = "approved"
        self._book(entries)

    def release(self, payment_id: str, entries: list[dict], actor: str, at: str) -> None:
        if f"payment:{payment_id}" in self.causes or not entries:
            return
        self._released(payment_id=payment_id, entries=entries, actor=actor, at=at)

    @event("Released")
    def _released(self, payment_id: str, entries: list[dict], actor: str, at: str) -> None:
        self.causes.add(f"payment:{payment_id}")
        self._book(entries)

    def adjust(self, *, cause: str, reason: str, targets: dict[str, dict[str, int]],
               overrides: dict[str, int], entries: list[dict], result: dict | None, actor: str,
               at: str) -> None:
        """Take the split as the facts now stand (a late fact, an upheld dispute): its targets and
        what they change is booked. A late fact that moves no line still changes what the split
        counts (a reversal is listed as excluded), so it is recorded unless the split is the same."""
        if cause in self.causes:
            return
        if targets == self.targets and overrides == self.overrides and not entries and \
                result == getattr(self, "latest", self.result):  # snapshots before `latest` was kept
            return  # the late fact changes nothing of the split
        self._adjusted(cause=cause, reason=reason, targets=targets, overrides=overrides,
                       entries=entries, result=result, actor=actor, at=at)

    @event("Adjusted")
    def _adjusted(self, cause: str, reason: str, targets: dict, overrides: dict, entries: list[dict],
                  result: dict | None, actor: str, at: str) -> None:
        self.causes.add(cause)
        self.targets = targets
        self.overrides = overrides
        self.pool = 0 if result is None else result["pool"]
        self.latest = result
        if result is not None and self.status == "proposed":
            self.result = result  # before approval a late fact simply changes the proposal
        self._book(entries)

    def _book(self, entries: list[dict]) -> None:
        for entry in entries:
            paid = self.paid.setdefault(entry["member_id"], {"upfront": 0, "release": 0})
            paid[entry["pays"]] += entry["amount"]


class Account(Aggregate):
    """A customer: its attributes, its grade with history, and its account team."""

    @staticmethod
    def create_id(account_id: str) -> UUID:
        return uuid5(GOLDSPLIT, f"account:{account_id}")

    @event("Registered")
    def __init__(self, account_id: str, name: str, industry: str, attributes: dict,
                 actor: str) -> None:
        self.account_id = account_id
        self.name = name
        self.industry = industry
        self.attributes = attributes
        self.grade: str | None = None
        self.score: str | None = None
        self.grading_policy: dict | None = None
        self.team: dict[str, str] = {}

    def change_attributes(self, attributes: dict, actor: str) -> None:
        if attributes != self.attributes:
            self._attributes_changed(attributes=attributes, actor=actor)

    @event("AttributesChanged")
    def _attributes_changed(self, attributes: dict, actor: str) -> None:
        self.attributes = attributes

    def grade_by(self, grading: Grading, reason: str, actor: str) -> None:
        """Take the grade a policy version gives; the history keeps each change and why.

        A new score within the same grade is a change too, so the score shown is never stale.
        """
        if (self.grade, self.score, self.grading_policy) == (grading.grade, grading.score,
                                                             dict(grading.policy)):
            return
        self._graded(grade=grading.grade, score=grading.score, reasons=list(grading.reasons),
                     policy=dict(grading.policy), reason=reason, actor=actor)

    @event("Graded")
    def _graded(self, grade: str, score: str | None, reasons: list[str], policy: dict, reason: str,
                actor: str) -> None:
        self.grade = grade
        self.score = score
        self.grading_policy = policy

    def add_to_team(self, member_id: str, role: str, actor: str) -> None:
        if role not in ACCOUNT_TEAM_ROLES:
            raise InvalidInput(f"{role!r} is not an account team role; use one of "
                               f"{list(ACCOUNT_TEAM_ROLES)}", field="role")
        if self.team.get(member_id) != role:
            self._team_member_added(member_id=member_id, role=role, actor=actor)

    @event("TeamMemberAdded")
    def _team_member_added(self, member_id: str, role: str, actor: str) -> None:
        self.team[member_id] = role

    def remove_from_team(self, member_id: str, actor: str) -> None:
        if member_id not in self.team:
            raise NotOnAccountTeam("the member is not on this account's team", field="member_id")
        self._team_member_removed(member_id=member_id, actor=actor)

    @event("TeamMemberRemoved")
    def _team_member_removed(self, member_id: str, actor: str) -> None:
        del self.team[member_id]

    def managers(self) -> list[str]:
        return [m for m, role in self.team.items() if role == "account_manager"]


class _Transitions:
    """A state machine's refusal: the move is allowed only from the listed states."""

    noun: ClassVar[str]
    status: str

    def require_state(self, doing: str, allowed: tuple[str, ...]) -> None:
        if self.status not in allowed:
            raise TransitionRefused(f"the {self.noun} is {self.status}; it can be {doing} only when "
                                    f"{' or '.join(allowed)}", field="status")


class Task(_Transitions, Aggregate):
    """An account-plan task: created -> assigned -> done -> verified, or reopened with a reason."""

    noun = "task"

    @event("Created")
    def __init__(self, account_id: str, title: str, assignee: str | None, due: str, actor: str,
                 id: UUID | None = None) -> None:  # noqa: A002 - eventsourcing's caller-chosen id
        self.account_id = account_id
        self.title = title
        self.assignee = assignee
        self.due = due
        self.status = "assigned" if assignee else "created"

    def assign(self, assignee: str, actor: str) -> None:
        self.require_state("assigned", ("created", "assigned"))
        if assignee != self.assignee:
            self._assigned(assignee=assignee, actor=actor)

    @event("Assigned")
    def _assigned(self, assignee: str, actor: str) -> None:
        self.assignee = assignee
        self.status = "assigned"

    def complete(self, note: str, actor: str) -> None:
        self.require_state("completed", ("assigned",))
        self._completed(note=note, actor=actor)

    @event("Completed")
    def _completed(self, note: str, actor: str) -> None:
        self.status = "done"

    def verify(self, actor: str) -> None:
        self.require_state("verified", ("done",))
        self._verified(actor=actor)

    @event("Verified")
    def _verified(self, actor: str) -> None:
        self.status = "verified"

    def reopen(self, reason: str, actor: str) -> None:
        self.require_state("reopened", ("done", "verified"))
        self._reopened(reason=reason, actor=actor)

    @event("Reopened")
    def _reopened(self, reason: str, actor: str) -> None:
        self.status = "assigned"


class SupportRequest(_Transitions, Aggregate):
    """The front office asks a member or a department for help on an opportunity.

    open -> accepted | declined; accepted -> delivered -> rated (1-5, by the requester). Each
    event carries `at`, the moment on the application's clock, which response and delivery
    times are measured by (events stored before it existed fall back to their timestamp).
    """

    noun = "request"

    @event("Opened")
    def __init__(self, opportunity_id: UUID, requested_by: str, to_member: str | None,
                 to_department: str | None, kind: str, summary: str, due: str, actor: str,
                 id: UUID | None = None,  # noqa: A002 - eventsourcing's caller-chosen id
                 at: str | None = None, seats: bool | None = None) -> None:
        self.opportunity_id = opportunity_id
        self.seats = seats  # whether its requester could add supporters (None: asked before this was kept)
        self.requested_by = requested_by
        self.to_member = to_member
        self.to_department = to_department
        self.kind = kind
        self.summary = summary
        self.due = due
        self.status = "open"
        self.supporter: str | None = None
        self.contribution_id: str | None = None

    def accept(self, member_id: str, actor: str, at: str | None = None) -> None:
        self.require_state("accepted", ("open",))
        self._accepted(member_id=member_id, actor=actor, at=at)

    @event("Accepted")
    def _accepted(self, member_id: str, actor: str, at: str | None = None) -> None:
        self.status = "accepted"
        self.supporter = member_id

    def decline(self, reason: str, actor: str, at: str | None = None) -> None:
        self.require_state("declined", ("open",))
        self._declined(reason=reason, actor=actor, at=at)

    @event("Declined")
    def _declined(self, reason: str, actor: str, at: str | None = None) -> None:
        self.status = "declined"

    def deliver(self, *, summary: str, hours: str, evidence_url: str | None,
                contribution_id: str | None, not_counted: str | None, actor: str,
                at: str | None = None) -> None:
        self.require_state("delivered", ("accepted",))
        self._delivered(summary=summary, hours=hours, evidence_url=evidence_url,
                        contribution_id=contribution_id, not_counted=not_counted, actor=actor, at=at)

    @event("Delivered")
    def _delivered(self, summary: str, hours: str, evidence_url: str | None,
                   contribution_id: str | None, not_counted: str | None, actor: str,
                   at: str | None = None) -> None:
        self.status = "delivered"
        self.contribution_id = contribution_id

    def rate(self, score: int, comment: str, actor: str, at: str | None = None) -> None:
        self.require_state("rated", ("delivered",))
        self._rated(score=score, comment=comment, actor=actor, at=at)

    @event("Rated")
    def _rated(self, score: int, comment: str, actor: str, at: str | None = None) -> None:
        self.status = "rated"
        self.rating = score


class Ask(_Transitions, Aggregate):
    """The AR asks for a lead's call on a fact that would move teammates' money: open -> approved
    (the lead's decision, with a reason, does it) | rejected (with a reason)."""

    noun = "ask"
    ACTIONS: ClassVar[tuple[str, ...]] = ("win", "correct", "reverse")

    @event("Opened")
    def __init__(self, opportunity_id: UUID, action: str, arguments: dict, reason: str,
                 calls: list[str], actor: str, at: str | None = None,
                 id: UUID | None = None) -> None:  # noqa: A002 - eventsourcing's caller-chosen id
        self.opportunity_id = opportunity_id
        self.action = action
        self.arguments = arguments
        self.reason = reason
        self.calls = calls
        self.asked_by = actor
        self.status = "open"

    def approve(self, reason: str, actor: str, at: str | None = None) -> None:
        self.require_state("approved", ("open",))
        self._approved(reason=reason, actor=actor, at=at)

    @event("Approved")
    def _approved(self, reason: str, actor: str, at: str | None = None) -> None:
        self.status = "approved"

    def reject(self, reason: str, actor: str, at: str | None = None) -> None:
        self.require_state("rejected", ("open",))
        self._rejected(reason=reason, actor=actor, at=at)

    @event("Rejected")
    def _rejected(self, reason: str, actor: str, at: str | None = None) -> None:
        self.status = "rejected"


class Period(Aggregate):
    """A month of payable entries: open until finance closes it, and then it never changes.

    Every booking into a month touches its Period, so a booking and the close of the same month
    conflict in the store: no entry can slip into a month after it was closed.
    """

    @staticmethod
    def create_id(month: str) -> UUID:
        return uuid5(GOLDSPLIT, f"period:{month}")

    @event("Started")
    def __init__(self, month: str) -> None:
        self.month = month
        self.closed = False
        self.booked = 0

    def book(self, entries: int, cause: str) -> None:
        if self.closed:
            raise PeriodClosed(f"period {self.month} is closed")
        self._booked(entries=entries, cause=cause)

    @event("Booked")
    def _booked(self, entries: int, cause: str) -> None:
        self.booked += entries

    def close(self, *, cutoff: int, report: dict, actor: str) -> None:
        if self.closed:
            raise PeriodClosed(f"period {self.month} is closed already", field="period")
        self._closed(cutoff=cutoff, report=report, actor=actor)

    @event("Closed")
    def _closed(self, cutoff: int, report: dict, actor: str) -> None:
        self.closed = True
        self.cutoff = cutoff
        self.report = report


class Dispute(_Transitions, Aggregate):
    """A member's objection to their own line: open -> rejected (with a reason) | upheld (with the
    corrected amount, which becomes an adjustment)."""

    noun = "dispute"

    @event("Raised")
    def __init__(self, allocation_id: UUID, member_id: str, reason: str, actor: str,
                 id: UUID | None = None) -> None:  # noqa: A002 - eventsourcing's caller-chosen id
        self.allocation_id = allocation_id
        self.member_id = member_id
        self.reason = reason
        self.status = "open"

    def reject(self, reason: str, actor: str) -> None:
        self.require_state("rejected", ("open",))
        self._rejected(reason=reason, actor=actor)

    @event("Rejected")
    def _rejected(self, reason: str, actor: str) -> None:
        self.status = "rejected"

    def uphold(self, corrected_amount: int, actor: str, reason: str | None = None) -> None:
        self.require_state("upheld", ("open",))
        self._upheld(corrected_amount=corrected_amount, actor=actor, reason=reason)

    @event("Upheld")
    def _upheld(self, corrected_amount: int, actor: str, reason: str | None = None) -> None:
        self.status = "upheld"
        self.corrected_amount = corrected_amount


POLICY_KINDS: dict[str, type[Versioned]] = {
    policy.kind: policy
    for policy in (AccountGradingPolicy, OpportunityGradingPolicy, RelationshipStandard, IncentivePolicy)
}
DEFAULT_POLICY_DOCUMENTS: dict[str, dict] = {
    "account-grading": DEFAULT_ACCOUNT_GRADING_DOCUMENT,
    "opportunity-grading": DEFAULT_OPPORTUNITY_GRADING_DOCUMENT,
    "relationship-standard": DEFAULT_RELATIONSHIP_STANDARD_DOCUMENT,
    "incentive": DEFAULT_INCENTIVE_DOCUMENT,
}


class SourceClaim(Aggregate):
    """That a message of another system, or a payment id, has been recorded, and on what deal.

    Its id is derived from what it claims (a contribution's id from its (source, source_id), or
    uuid5 of "payment:<id>"), and it is saved in the same transaction as what it claims: the store
    refuses a second claim on the same id, so the same message or payment naming another
    opportunity cannot be recorded twice across the ledger.
    """

    @event("Claimed")
    def __init__(self, opportunity_id: str, id: UUID) -> None:  # noqa: A002 - the derived id
        self.opportunity_id = opportunity_id


class PolicyBook(Aggregate):
    """The versions of one kind of policy, oldest first."""

    @staticmethod
    def create_id(kind: str) -> UUID:
        return uuid5(GOLDSPLIT, f"policy:{kind}")

    @event("Started")
    def __init__(self, kind: str, actor: str) -> None:
        self.kind = kind
        self.documents: list[dict[str, Any]] = []

    def add_version(self, document: dict, actor: str) -> Versioned:
        """Validate a document as this book's kind of policy and add it as the next version."""
        policy = POLICY_KINDS[self.kind].from_document(document, version=len(self.documents) + 1)
        self._version_added(document=policy.document(), actor=actor)
        return policy

    @event("VersionAdded")
    def _version_added(self, document: dict, actor: str) -> None:
        self.documents.append(document)

    def versions(self) -> list[Any]:
        return [POLICY_KINDS[self.kind].from_stored(d) for d in self.documents]


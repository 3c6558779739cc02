"""Aggregates and their events. Public methods validate and decide; private @event methods only assign.

The private bodies re-run on every replay: they must not validate, read the clock or call out.
Dates and times travel in events as ISO strings and money as integer minor units, so the stored
bytes are canonical for the audit chain.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.exceptions import (
    ContributionAlreadyConfirmed,
    ContributionAlreadyRecorded,
    ContributionAlreadyReversed,
    ContributionNotFound,
    ContributorNotOnOpportunity,
    InvalidInput,
    OpportunityClosed,
    SupporterAlreadyAdded,
)
from domain.policy import TRIANGLE_ROLES, IncentivePolicy

GOLDSPLIT = uuid5(NAMESPACE_URL, "https://goldsplit.example/ids")
DEPARTMENTS = ("sales", "presales", "delivery", "finance", "commercial", "rnd", "management")


def event_id(originator_id: UUID, originator_version: int) -> UUID:
    """The stable id of one stored event (what explain and the audit trail cite)."""
    return uuid5(originator_id, str(originator_version))


class Member(Aggregate):
    """A person on the selling team, with a department."""

    @staticmethod
    def create_id(member_id: str) -> UUID:
        return uuid5(GOLDSPLIT, f"member:{member_id}")

    @event("Registered")
    def __init__(self, member_id: str, name: str, department: str, actor: str) -> None:
        self.member_id = member_id
        self.name = name
        self.department = department


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

    def _require_open(self, doing: str) -> None:
        if self.is_closed:
            raise OpportunityClosed(f"the opportunity is {self.stage}; cannot {doing}")

    # -- commands ------------------------------------------------------------------------------

    def assign_role(self, role: str, member_id: str, actor: str) -> None:
        if role not in TRIANGLE_ROLES:
            raise InvalidInput(f"{role!r} is not a triangle role; use AR, SR or FR", field="role")
        self._require_open("change the triangle")
        if self.triangle[role] == member_id:
            return
        self._role_assigned(role=role, member_id=member_id, previous=self.triangle[role], actor=actor)

    @event("TriangleRoleAssigned")
    def _role_assigned(self, role: str, member_id: str, previous: str | None, actor: str) -> None:
        self.triangle[role] = member_id
        self.triangle_history.append({"role": role, "member_id": member_id, "previous": previous})

    def add_supporter(self, member_id: str, actor: str) -> None:
        self._require_open("add a supporter")
        if member_id in self.supporters:
            raise SupporterAlreadyAdded(f"{member_id} already supports this opportunity", field="member_id")
        self._supporter_added(member_id=member_id, actor=actor)

    @event("SupporterAdded")
    def _supporter_added(self, member_id: str, actor: str) -> None:
        self.supporters.append(member_id)

    def record_contribution(self, *, contribution_id: str, member_id: str, role: str | None,
                            kind: str, summary: str, hours: str, occurred_at: datetime,
                            evidence_url: str | None, actor: str, now: datetime) -> None:
        self._require_open("record contributions")
        if contribution_id in self.contributions:
            raise ContributionAlreadyRecorded(f"contribution {contribution_id} is already recorded")
        held = self.roles_of(member_id)
        if not held:
            raise ContributorNotOnOpportunity(
                f"{member_id} is neither in the triangle nor a supporter of this opportunity",
                field="member_id")
        if role is None:
            role = held[0]
        elif role not in held:
            raise InvalidInput(f"{member_id} does not hold role {role} here (holds {held})", field="role")
        if occurred_at > now:
            raise InvalidInput("is in the future", field="occurred_at")
        self._contribution_recorded(
            contribution_id=contribution_id, member_id=member_id, role=role, kind=kind,
            summary=summary, hours=hours, occurred_at=occurred_at.isoformat(),
            evidence_url=evidence_url, actor=actor)

    @event("ContributionRecorded")
    def _contribution_recorded(self, contribution_id: str, member_id: str, role: str, kind: str,
                               summary: str, hours: str, occurred_at: str,
                               evidence_url: str | None, actor: str) -> None:
        self.contributions[contribution_id] = {
            "id": contribution_id, "member_id": member_id, "role": role,
            "kind": kind, "summary": summary, "hours": hours, "occurred_at": occurred_at,
            "evidence_url": evidence_url, "status": "recorded",
            # The body runs before the aggregate's version moves to this event's version.
            "event_id": str(event_id(self.id, self.version + 1)),
        }

    def confirm_contribution(self, contribution_id: str, actor: str) -> None:
        contribution = self.contribution(contribution_id)
        self._require_open("confirm contributions")
        if contribution["status"] == "reversed":
            raise ContributionAlreadyReversed(f"contribution {contribution_id} was reversed")
        if contribution["status"] == "confirmed":
            raise ContributionAlreadyConfirmed(f"contribution {contribution_id} is already confirmed")
        self._contribution_confirmed(contribution_id=contribution_id, actor=actor)

    @event("ContributionConfirmed")
    def _contribution_confirmed(self, contribution_id: str, actor: str) -> None:
        self.contributions[contribution_id]["status"] = "confirmed"

    def reverse_contribution(self, contribution_id: str, reason: str, actor: str) -> None:
        contribution = self.contribution(contribution_id)
        self._require_open("reverse contributions")
        if contribution["status"] == "reversed":
            raise ContributionAlreadyReversed(f"contribution {contribution_id} was reversed already")
        if not reason.strip():
            raise InvalidInput("a reversal needs a reason", field="reason")
        self._contribution_reversed(contribution_id=contribution_id, reason=reason, actor=actor)

    @event("ContributionReversed")
    def _contribution_reversed(self, contribution_id: str, reason: str, actor: str) -> None:
        self.contributions[contribution_id]["status"] = "reversed"
        self.contributions[contribution_id]["reversal_reason"] = reason

    def win(self, amount: int, closed_on: date, actor: str, today: date) -> None:
        self._require_open("win it")
        if closed_on > today:
            raise InvalidInput("is in the future", field="closed_on")
        self._won(amount=amount, closed_on=closed_on.isoformat(), actor=actor)

    @event("Won")
    def _won(self, amount: int, closed_on: str, actor: str) -> None:
        self.stage = "won"
        self.amount = amount
        self.closed_on = closed_on

    def lose(self, reason: str, closed_on: date, actor: str, today: date) -> None:
        self._require_open("lose it")
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
        self.result = result
        self.policy = policy
        self.status = "proposed"


class PolicyBook(Aggregate):
    """The versions of one kind of policy, oldest first."""

    @staticmethod
    def create_id(kind: str) -> UUID:
        return uuid5(GOLDSPLIT, f"policy:{kind}")

    @event("Started")
    def __init__(self, kind: str, actor: str) -> None:
        self.kind = kind
        self.documents: list[dict[str, Any]] = []

    def add_incentive_version(self, document: dict, actor: str) -> IncentivePolicy:
        policy = IncentivePolicy.from_document(document, version=len(self.documents) + 1)
        self._version_added(document=policy.document(), actor=actor)
        return policy

    @event("VersionAdded")
    def _version_added(self, document: dict, actor: str) -> None:
        self.documents.append(document)

    def incentive_versions(self) -> list[IncentivePolicy]:
        return [IncentivePolicy.from_stored(d) for d in self.documents]


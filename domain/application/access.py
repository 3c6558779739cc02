"""Who may do what: the roles of a token, the relations to an object, and the lead's calls."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from domain import values
from domain.aggregates import (
    Account,
    Allocation,
    Opportunity,
    SupportRequest,
    Task,
)
from domain.exceptions import (
    AccountNotFound,
    InvalidInput,
    LeadsCall,
    MemberNotFound,
    NotAllowed,
    NotFound,
    RequestNotFound,
    TaskNotFound,
)

# Who may do what, by the role a token carries. The use cases enforce it (`Access._require`) and
# the HTTP side reads it for its early 403 (api/deps.py), so the two never disagree; on top of it
# each use case checks the caller's relation to the object (the deal's AR, a request's addressee).
MAY: Mapping[str, tuple[str, ...]] = {
    "work": ("member", "lead", "admin"),  # record and staff work, open deals, ask for help
    "lead": ("lead", "admin"),  # a lead's calls: overrides, asks decided, work reversed
    "move money": ("finance",),  # approve, cancellations, refunds, disputes, closes
    "record cash": ("finance", "admin"),  # payments received (an admin may key in the ERP's)
    "set policy": ("finance", "admin"),
    "regrade": ("finance", "lead", "admin"),
    "dispute": ("member", "lead", "finance", "admin"),  # an auditor changes nothing
    "read the books": ("finance", "auditor", "admin"),  # periods, statements, the audit chain
    "see every deal": ("lead", "finance", "auditor", "admin"),
    "register members": ("admin",),
}
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
        return self.role in MAY["lead"]


def require(actor: Actor, may: str, doing: str) -> None:
    """The token's role may do this (MAY), or NotAllowed: "only finance approves allocations"."""
    if actor.role not in MAY[may]:
        raise NotAllowed(f"only {' or '.join(MAY[may])} {doing}")


def lead_reason(reason: object) -> str | None:
    """A lead's reason for their call, when one is given (the call itself demands it)."""
    return None if reason is None else values.text(reason, "reason")


class Access:
    """Who may do what: the roles of a token, the relations to an object, and the lead's calls."""

    @staticmethod
    def _require_lead_after_win(opportunity: Opportunity, actor: Actor, doing: str) -> None:
        """After the win a change moves money at once: a lead's call, not the AR's."""
        if opportunity.stage == "won" and not actor.leads:
            raise NotAllowed(f"the deal is won: only a lead may {doing} now (it books adjustments)")

    @staticmethod
    def _require_no_line(allocation: Allocation, actor: Actor, doing: str) -> None:
        """Money that reaches a line moves by someone without one: four eyes."""
        if actor.member_id in allocation.targets:
            raise NotAllowed(f"you have a line in this allocation: another member of finance {doing}")

    _require = staticmethod(require)

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

    def _require_seen(self, found: Any, opportunity_id: UUID, actor: Actor,
                      not_found: type[NotFound], field_name: str, given: object) -> None:
        """Who sees a deal (as who reads its board): its team now or ever, leads, finance,
        auditors and admins. To anyone else it and what belongs to it do not exist: the same 404
        as an id that names nothing, so a refusal never tells them it exists."""
        if actor.role in MAY["see every deal"]:
            return
        opportunity = found if isinstance(found, Opportunity) else self._opportunity(opportunity_id)
        if not opportunity.is_on(actor.member_id) and not any(
                h["member_id"] == actor.member_id for h in opportunity.triangle_history):
            raise self._missing(type(found), not_found, field_name, given)

    def _require_seen_account(self, account: Account, actor: Actor, task: Task | None = None) -> None:
        """Who sees an account (as who reads its board): its team, leads, finance, auditors and
        admins, and a task's assignee its task. To anyone else the account, or the task, does not
        exist: the same 404 as an id that names nothing."""
        if actor.role in MAY["see every deal"] or actor.member_id in account.team or (
                task is not None and actor.member_id == task.assignee):
            return
        if task is not None:
            raise self._missing(Task, TaskNotFound, "task_id", task.id)
        raise self._missing(Account, AccountNotFound, "account_id", account.account_id)

    def _visible_request(self, request_id: str, actor: Actor) -> SupportRequest:
        """The request, if the actor may see it: whoever may see its deal, its requester, its
        addressee or a member of the department it is addressed to, its supporter."""
        request = self._request(request_id)
        if actor.role in MAY["see every deal"] or actor.member_id in (
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

"""Use cases of support requests and of relationship assessments."""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID, uuid4, uuid5

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from domain import values
from domain.aggregates import (
    Opportunity,
    SupportRequest,
)
from domain.application.access import Actor
from domain.application.accounts import known_department
from domain.application.contributions import SUPPORT_DELIVERED, hours_worked
from domain.application.results import Assessed, Delivered, Recorded, WithStatus
from domain.exceptions import (
    InvalidInput,
    NotAllowed,
    OpportunityNotFound,
)


class Support:
    """Use cases of support requests and of relationship assessments."""

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

        return self._change(opportunity_id, decide, actor, lambda _: Assessed(
            aid, score=assessed.score, win_probability=str(assessed.win_probability),
            standard_version=standard.version))

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
            known_department(to_department, "to_department")
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
            return self._saved(WithStatus(str(request.id), status="open"), request)
        except IntegrityError:
            return WithStatus(str(request.id), self._head(), self._request(request.id).status)

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
        hours = hours_worked(hours)
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

        return self._request_change(request_id, decide, lambda request: Delivered(
            str(request.id), contribution_id=request.contribution_id))

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

    def _request_change(self, request_id: str,
                        decide: Callable[[Opportunity, SupportRequest], None],
                        answer: Callable[[SupportRequest], Recorded] | None = None) -> Recorded:
        """Change a request and its opportunity together, in the opportunity's turn; the answer
        names the request, or is what `answer` reads from it once changed."""
        request = self._request(request_id)
        decided: list[SupportRequest] = []

        def both(opportunity: Opportunity) -> list[Aggregate]:
            fresh = self._request(request.id)
            decide(opportunity, fresh)
            decided[:] = [fresh]
            return [fresh] if fresh.pending_events else []

        return self._change(str(request.opportunity_id), both,
                            answer=lambda _: answer(decided[0]) if answer else Recorded(str(request.id)))

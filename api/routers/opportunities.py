"""Opportunities: the triangle, supporters, contributions, win and loss, the board and allocation."""

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from api.deps import (
    ActorDep,
    After,
    Cash,
    ContributionId,
    Cursor,
    IdempotencyKey,
    Limit,
    Money,
    OpportunityId,
    Search,
    ServicesDep,
    TriangleRolePath,
    Writer,
    created_id,
    wait_for,
)
from api.schemas import (
    KEY,
    MEMBER,
    NOT_THE_ACTION,
    PROBLEMS,
    AssessmentIn,
    AssessmentOut,
    CommandOut,
    ContributionIn,
    GradedOut,
    LoseIn,
    OpportunityIn,
    OpportunityPatchIn,
    PaymentIn,
    PaymentOut,
    ReasonIn,
    RefundIn,
    RegradedOut,
    RequestIn,
    SeatIn,
    StatusOut,
    WinIn,
    WonOut,
    recorded,
)
from domain.application import Actor
from domain.policy import GRADES
from queries.allocations import AllocationOut
from queries.board import BoardOut
from queries.lists import STATES, OpportunityPageOut

router = APIRouter(prefix="/v1/opportunities", tags=["opportunities"], responses=PROBLEMS)


@router.get("", response_model=OpportunityPageOut)
def list_opportunities(
        actor: ActorDep, services: ServicesDep,
        state: Annotated[Literal[STATES] | None, Query(description="open, won or lost")] = None,
        grade: Annotated[Literal[GRADES] | None, Query(description="the deal's grade")] = None,
        member: Annotated[str | None, Query(min_length=1, max_length=64, pattern=MEMBER,
                                            description="deals this member is or was on")] = None,
        account: Annotated[str | None, Query(min_length=1, max_length=64, pattern=KEY,
                                             description="deals filed under this account id")] = None,
        q: Search = None,
        cursor: Cursor = None,
        limit: Limit = 50,
        after: After = None) -> OpportunityPageOut:
    """The deals the caller may see (a member: those they are or were on), by name then id, a page
    at a time: pass a page's `next` as `cursor` for the one after it."""
    wait_for(services, after)
    return services.queries.lists.opportunities(actor, state=state, grade=grade, member=member,
                                                account=account, q=q, cursor=cursor, limit=limit)


@router.post("", status_code=201, response_model=GradedOut)
def open_opportunity(body: OpportunityIn, actor: Writer, services: ServicesDep,
                     key: IdempotencyKey = None) -> dict:
    """Open an opportunity on an account; the grading policy grades it; a member who opens it is its AR."""
    return recorded(services.app.open_opportunity(
        actor, account_id=body.account_id, name=body.name, amount=body.amount,
        currency=body.currency, expected_close=body.expected_close, grade=body.grade,
        reason=body.reason, attributes=body.attributes, opportunity_id=created_id(actor, key)))


@router.post("/regrade", response_model=RegradedOut)
def regrade(actor: ActorDep, services: ServicesDep) -> dict:
    """Grade every open opportunity again by the policy in force today (finance, a lead, an admin)."""
    return recorded(services.app.regrade_opportunities(actor))


@router.patch("/{opportunity_id:opportunity}", response_model=GradedOut, responses=NOT_THE_ACTION)
def correct(opportunity_id: OpportunityId, body: OpportunityPatchIn, actor: Writer, services: ServicesDep) -> dict:
    """Correct an open deal's amount, expected close or attributes (the AR or a lead); it is regraded."""
    release = "grade" in body.model_fields_set and body.grade is None  # null: back to the policy
    return recorded(services.app.correct_opportunity(
        actor, opportunity_id, amount=body.amount, expected_close=body.expected_close,
        attributes=body.attributes, grade=body.grade, release_grade=release, reason=body.reason))


@router.post("/{opportunity_id}/requests", status_code=201, response_model=StatusOut)
def open_request(opportunity_id: OpportunityId, body: RequestIn, actor: Writer, services: ServicesDep,
                 key: IdempotencyKey = None) -> dict:
    """Ask a member or a department for help on this opportunity (its team or a lead)."""
    return recorded(services.app.open_request(
        actor, opportunity_id, kind=body.kind, summary=body.summary, due=body.due,
        to_member=body.to_member, to_department=body.to_department,
        request_id=created_id(actor, key)))


@router.post("/{opportunity_id}/assessments", status_code=201, response_model=AssessmentOut)
def assess(opportunity_id: OpportunityId, body: AssessmentIn, actor: Writer, services: ServicesDep,
           key: IdempotencyKey = None) -> dict:
    """Judge the relationship by the standard in force: answers -> score -> win probability."""
    return recorded(services.app.assess(actor, opportunity_id, body.answers,
                                        assessment_id=created_id(actor, key)))


@router.put("/{opportunity_id}/triangle/{role}", response_model=CommandOut)
def assign_triangle_role(opportunity_id: OpportunityId, role: TriangleRolePath, body: SeatIn, actor: Writer,
                         services: ServicesDep) -> dict:
    """Seat a member as AR, SR or FR (the AR or a lead); a handover keeps the history."""
    return recorded(services.app.assign_triangle_role(actor, opportunity_id, role, body.member_id))


@router.post("/{opportunity_id}/supporters", status_code=201, response_model=CommandOut)
def add_supporter(opportunity_id: OpportunityId, body: SeatIn, actor: Writer, services: ServicesDep) -> dict:
    """Add a back-office supporter (the AR or a lead)."""
    return recorded(services.app.add_supporter(actor, opportunity_id, body.member_id))


@router.post("/{opportunity_id}/contributions", status_code=201, response_model=CommandOut)
def record_contribution(opportunity_id: OpportunityId, body: ContributionIn, actor: Writer,
                        services: ServicesDep, key: IdempotencyKey = None) -> dict:
    """Record a contribution; a member records only their own, on opportunities they are on."""
    return recorded(services.app.record_contribution(
        actor, opportunity_id, member_id=body.member_id, kind=body.kind, summary=body.summary,
        hours=body.hours, occurred_at=body.occurred_at, evidence_url=body.evidence_url,
        role=body.role, contribution_id=created_id(actor, key)))


@router.post("/{opportunity_id}/contributions/{contribution_id}/confirm", response_model=CommandOut)
def confirm_contribution(opportunity_id: OpportunityId, contribution_id: ContributionId, actor: Writer,
                         services: ServicesDep) -> dict:
    """Confirm a contribution (the AR or a lead)."""
    return recorded(services.app.confirm_contribution(actor, opportunity_id, contribution_id))


@router.post("/{opportunity_id}/contributions/{contribution_id}/reverse", response_model=CommandOut)
def reverse_contribution(opportunity_id: OpportunityId, contribution_id: ContributionId, body: ReasonIn, actor: Writer,
                         services: ServicesDep) -> dict:
    """Reverse a contribution with a reason (the AR or a lead)."""
    return recorded(services.app.reverse_contribution(
        actor, opportunity_id, contribution_id, body.reason))


@router.post("/{opportunity_id}/win", response_model=WonOut)
def win(opportunity_id: OpportunityId, body: WinIn, actor: Writer, services: ServicesDep) -> dict:
    """Win the deal; its allocation is proposed by the policy in force on the close date."""
    return recorded(services.app.win(actor, opportunity_id, amount=body.amount,
                                     closed_on=body.closed_on, reason=body.reason))


@router.post("/{opportunity_id}/lose", response_model=CommandOut)
def lose(opportunity_id: OpportunityId, body: LoseIn, actor: Writer, services: ServicesDep) -> dict:
    """Record the deal as lost, with a reason."""
    return recorded(services.app.lose(actor, opportunity_id, reason=body.reason,
                                      closed_on=body.closed_on))


@router.post("/{opportunity_id}/payments", status_code=201, response_model=PaymentOut,
             response_model_exclude_unset=True)
def receive_payment(opportunity_id: OpportunityId, body: PaymentIn, actor: Cash,
                    services: ServicesDep, key: IdempotencyKey = None) -> dict:
    """Cash collected on the won deal (finance): it releases held parts in its period."""
    return recorded(services.app.receive_payment(
        actor, opportunity_id, amount=body.amount, currency=body.currency,
        received_on=body.received_on, payment_id=_keyed(actor, key, body.payment_id)))


@router.post("/{opportunity_id}/cancel", response_model=CommandOut)
def cancel(opportunity_id: OpportunityId, body: ReasonIn, actor: Money, services: ServicesDep) -> dict:
    """The won deal is cancelled (finance): what was payable of it is clawed back."""
    return recorded(services.app.cancel_won_deal(actor, opportunity_id, body.reason))


@router.post("/{opportunity_id}/refunds", status_code=201, response_model=CommandOut)
def refund(opportunity_id: OpportunityId, body: RefundIn, actor: Money, services: ServicesDep,
           key: IdempotencyKey = None) -> dict:
    """Part of the won amount goes back to the customer (finance); the lines shrink."""
    return recorded(services.app.refund(actor, opportunity_id, amount=body.amount, reason=body.reason,
                                        refund_id=_keyed(actor, key, body.refund_id)))


def _keyed(actor: Actor, key: str | None, given: str | None) -> str | None:
    """A payment or refund without the ERP's id takes one from the Idempotency-Key: a retry after
    a 5xx (which frees the key) names the same one, so it is recorded once."""
    created = created_id(actor, key)
    return given if given is not None or created is None else str(created)


@router.get("/{opportunity_id}/board", response_model=BoardOut, response_model_exclude_unset=True)
def board(opportunity_id: OpportunityId, actor: ActorDep, services: ServicesDep,
          after: After = None) -> BoardOut:
    """The live board: triangle, supporters, contributions, points and the split if won today."""
    wait_for(services, after)
    return services.queries.boards.board(actor, opportunity_id)


@router.get("/{opportunity_id}/allocation", response_model=AllocationOut,
            response_model_exclude_unset=True)
def allocation(opportunity_id: OpportunityId, actor: ActorDep, services: ServicesDep,
               after: After = None) -> AllocationOut:
    """The allocation of a won deal; a member sees only their own line."""
    wait_for(services, after)
    return services.queries.allocations.of_opportunity(actor, opportunity_id)

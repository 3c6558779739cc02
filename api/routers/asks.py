"""Asks: the AR asks a lead to make a lead's call (four eyes), and a lead decides."""

from fastapi import APIRouter

from api.deps import (
    ActorDep,
    After,
    AskId,
    IdempotencyKey,
    OpportunityId,
    ServicesDep,
    Writer,
    created_id,
    wait_for,
)
from api.schemas import PROBLEMS, AskIn, CommandOut, DecisionIn, recorded
from queries.board import AskOut

router = APIRouter(tags=["asks"], responses=PROBLEMS)


@router.post("/v1/opportunities/{opportunity_id}/asks", status_code=201, response_model=CommandOut)
def ask(opportunity_id: OpportunityId, body: AskIn, actor: Writer, services: ServicesDep,
        key: IdempotencyKey = None) -> dict:
    """The AR asks a lead to win above the open amount or dated back, to raise the open amount,
    or to reverse someone else's confirmed work; nothing changes until a lead approves."""
    return recorded(services.app.ask(
        actor, opportunity_id, action=body.action, reason=body.reason, amount=body.amount,
        closed_on=body.closed_on, contribution_id=body.contribution_id,
        ask_id=created_id(actor, key)))


@router.post("/v1/asks/{ask_id}/approve", response_model=CommandOut)
def approve(ask_id: AskId, body: DecisionIn, actor: Writer, services: ServicesDep) -> dict:
    """A lead with no stake in the deal makes the call asked for, with a reason."""
    return recorded(services.app.decide_ask(actor, ask_id, decision="approve", reason=body.reason))


@router.post("/v1/asks/{ask_id}/reject", response_model=CommandOut)
def reject(ask_id: AskId, body: DecisionIn, actor: Writer, services: ServicesDep) -> dict:
    """A lead turns the ask down, with a reason."""
    return recorded(services.app.decide_ask(actor, ask_id, decision="reject", reason=body.reason))


@router.get("/v1/asks/{ask_id}", response_model=AskOut, response_model_exclude_unset=True)
def get_ask(ask_id: AskId, actor: ActorDep, services: ServicesDep, after: After = None) -> AskOut:
    """An ask and its decision (whoever reads the opportunity's board)."""
    wait_for(services, after)
    return services.queries.boards.ask(actor, ask_id)

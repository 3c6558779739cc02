"""Disputes: a member's objection to their own line, and how finance resolved it."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import ActorDep, After, DisputeId, Money, ServicesDep, wait_for
from api.schemas import PROBLEMS, CommandOut, ResolutionIn, recorded
from queries.allocations import DisputeOut

router = APIRouter(prefix="/v1/disputes", tags=["disputes"], responses=PROBLEMS)


@router.get("/{dispute_id}", response_model=DisputeOut)
def get_dispute(dispute_id: DisputeId, actor: ActorDep, services: ServicesDep,
                after: After = None) -> DisputeOut:
    """A dispute (the member who raised it, leads, finance, auditors, admins)."""
    wait_for(services, after)
    return services.queries.allocations.dispute(actor, dispute_id)


@router.post("/{dispute_id}/resolve", response_model=CommandOut)
def resolve(dispute_id: DisputeId, body: ResolutionIn, actor: Money, services: ServicesDep) -> dict:
    """Finance rejects the dispute with a reason, or upholds it with the line's corrected amount."""
    return recorded(services.app.resolve_dispute(actor, dispute_id, decision=body.decision,
                                                 reason=body.reason,
                                                 corrected_amount=body.corrected_amount))

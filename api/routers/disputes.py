"""Disputes: a member's objection to their own line, and how finance resolved it."""

from __future__ import annotations

from fastapi import APIRouter

from api.access import readable_dispute
from api.deps import ActorDep, After, DisputeId, Money, ServicesDep, wait_for
from api.schemas import PROBLEMS, CommandOut, DisputeOut, ResolutionIn, recorded
from projections.allocations import present_dispute

router = APIRouter(prefix="/v1/disputes", tags=["disputes"], responses=PROBLEMS)


@router.get("/{dispute_id}", response_model=DisputeOut)
def get_dispute(dispute_id: DisputeId, actor: ActorDep, services: ServicesDep, after: After = None) -> dict:
    """A dispute (the member who raised it, leads, finance, auditors, admins)."""
    wait_for(services, after)
    doc = readable_dispute(services, dispute_id, actor)
    return present_dispute(doc)


@router.post("/{dispute_id}/resolve", response_model=CommandOut)
def resolve(dispute_id: DisputeId, body: ResolutionIn, actor: Money, services: ServicesDep) -> dict:
    """Finance rejects the dispute with a reason, or upholds it with the line's corrected amount."""
    return recorded(services.app.resolve_dispute(actor, dispute_id, decision=body.decision,
                                                 reason=body.reason,
                                                 corrected_amount=body.corrected_amount))

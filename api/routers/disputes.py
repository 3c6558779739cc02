"""Disputes: a member's objection to their own line, and how finance resolved it."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import ActorDep, After, Finance, ServicesDep, wait_for
from api.errors import Refused
from api.schemas import PROBLEMS, CommandOut, Out, ResolutionIn, recorded
from domain.exceptions import DisputeNotFound
from domain.values import identifier
from projections.allocations import DISPUTES, present_dispute

router = APIRouter(prefix="/v1/disputes", tags=["disputes"], responses=PROBLEMS)

READS_DISPUTES = ("lead", "finance", "auditor", "admin")


class ResolutionOut(Out):
    decision: str
    reason: str | None
    corrected_amount: str | None
    by: str
    at: str
    position: int


class DisputeOut(Out):
    id: str
    allocation_id: str
    opportunity_id: str
    member_id: str
    reason: str
    status: str
    currency: str
    raised_by: str
    raised_at: str
    position: int
    resolution: ResolutionOut | None


@router.get("/{dispute_id}", response_model=DisputeOut)
def get_dispute(dispute_id: str, actor: ActorDep, services: ServicesDep, after: After = None) -> dict:
    """A dispute (the member who raised it, leads, finance, auditors, admins)."""
    wait_for(services, after)
    did = identifier(dispute_id, "dispute", DisputeNotFound)
    doc = services.views.get(DISPUTES, str(did))
    if doc is None:
        raise DisputeNotFound(f"no dispute {dispute_id}", field="dispute_id")
    if actor.role not in READS_DISPUTES and actor.member_id != doc["member_id"]:
        raise Refused(403, "only the member who raised a dispute, leads, finance and auditors read it")
    return present_dispute(doc)


@router.post("/{dispute_id}/resolve", response_model=CommandOut)
def resolve(dispute_id: str, body: ResolutionIn, actor: Finance, services: ServicesDep) -> dict:
    """Finance rejects the dispute with a reason, or upholds it with the line's corrected amount."""
    return recorded(services.app.resolve_dispute(actor, dispute_id, decision=body.decision,
                                                 reason=body.reason,
                                                 corrected_amount=body.corrected_amount))

"""Allocations of won deals and the explanation of each line."""

from typing import Annotated

from fastapi import APIRouter, Query

from api.access import own_line_only, readable_allocation
from api.deps import ActorDep, After, ServicesDep, wait_for
from api.errors import Refused
from api.schemas import PROBLEMS, AllocationOut, ExplainOut
from projections.allocations import explain, present_allocation

router = APIRouter(prefix="/v1/allocations", tags=["allocations"], responses=PROBLEMS)


@router.get("/{allocation_id}", response_model=AllocationOut)
def get_allocation(allocation_id: str, actor: ActorDep, services: ServicesDep,
                   after: After = None) -> dict:
    """An allocation; a member sees only their own line."""
    wait_for(services, after)
    return present_allocation(readable_allocation(services, allocation_id, actor),
                              only_member=own_line_only(actor))


@router.get("/{allocation_id}/explain", response_model=ExplainOut)
def explain_line(allocation_id: str, actor: ActorDep, services: ServicesDep,
                 member_id: Annotated[str | None, Query(min_length=1)] = None,
                 after: After = None) -> dict:
    """How one member's line was computed, step by step (a member: only their own line)."""
    wait_for(services, after)
    member_id = member_id or actor.member_id
    if own_line_only(actor) not in (None, member_id):
        raise Refused(403, "a member sees the explanation of their own line only")
    return explain(readable_allocation(services, allocation_id, actor), member_id)

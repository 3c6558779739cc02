"""Allocations of won deals and the explanation of each line."""

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import READ_ALL, ActorDep, After, ServicesDep, wait_for
from api.errors import Refused
from api.routers.opportunities import can_see
from api.schemas import PROBLEMS, AllocationOut, ExplainOut
from domain.exceptions import AllocationNotFound
from domain.values import identifier
from projections.allocations import VIEW, explain, present_allocation

router = APIRouter(prefix="/v1/allocations", tags=["allocations"], responses=PROBLEMS)


def _allocation(services, allocation_id: str, actor) -> dict:
    doc = services.views.get(VIEW, str(identifier(allocation_id, "allocation", AllocationNotFound)))
    if doc is None:
        raise AllocationNotFound(f"no allocation {allocation_id}", field="allocation_id")
    if actor.role not in READ_ALL:
        board = services.views.get("board", doc["opportunity_id"])
        if board is None or not can_see(board, actor.member_id):
            raise Refused(403, "only the opportunity's team, leads, finance and auditors see its "
                               "allocation")
    return doc


@router.get("/{allocation_id}", response_model=AllocationOut)
def get_allocation(allocation_id: str, actor: ActorDep, services: ServicesDep,
                   after: After = None) -> dict:
    """An allocation; a member sees only their own line."""
    wait_for(services, after)
    doc = _allocation(services, allocation_id, actor)
    return present_allocation(doc, only_member=None if actor.role in READ_ALL else actor.member_id)


@router.get("/{allocation_id}/explain", response_model=ExplainOut)
def explain_line(allocation_id: str, actor: ActorDep, services: ServicesDep,
                 member_id: Annotated[str | None, Query(min_length=1)] = None,
                 after: After = None) -> dict:
    """How one member's line was computed, step by step (a member: only their own line)."""
    wait_for(services, after)
    member_id = member_id or actor.member_id
    if actor.role not in READ_ALL and member_id != actor.member_id:
        raise Refused(403, "a member sees the explanation of their own line only")
    return explain(_allocation(services, allocation_id, actor), member_id)

"""Allocations of won deals and the explanation of each line."""

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from api.deps import (
    ActorDep,
    After,
    AllocationId,
    Cursor,
    IdempotencyKey,
    Limit,
    Money,
    ServicesDep,
    allow,
    created_id,
    wait_for,
)
from api.schemas import (
    MEMBER,
    PERIOD,
    PROBLEMS,
    CommandOut,
    DisputeIn,
    StatusOut,
    recorded,
)
from domain.application import Actor
from queries.allocations import AllocationOut
from queries.explain import ExplainOut
from queries.lists import STATUSES, AllocationPageOut

router = APIRouter(prefix="/v1/allocations", tags=["allocations"], responses=PROBLEMS)
Disputer = Annotated[Actor, allow("dispute")]


@router.get("", response_model=AllocationPageOut)
def list_allocations(
        actor: ActorDep, services: ServicesDep,
        status: Annotated[Literal[STATUSES] | None, Query(description="proposed or approved")] = None,
        period: Annotated[str | None, Query(pattern=PERIOD, description="the close date's month (2026-11) "
                                                                        "or quarter (2026-Q4)")] = None,
        member: Annotated[str | None, Query(min_length=1, max_length=64, pattern=MEMBER,
                                            description="allocations this member has a line in (a member: "
                                                        "only their own id)")] = None,
        cursor: Cursor = None,
        limit: Limit = 50,
        after: After = None) -> AllocationPageOut:
    """The allocations of the deals the caller may see, by the deal's name then id, a page at a
    time: pass a page's `next` as `cursor` for the one after it. A member sees whether they have a
    line (`has_line`), never anyone's amount."""
    wait_for(services, after)
    return services.queries.lists.allocations(actor, status=status, period=period, member=member,
                                              cursor=cursor, limit=limit)


@router.get("/{allocation_id}", response_model=AllocationOut, response_model_exclude_unset=True)
def get_allocation(allocation_id: AllocationId, actor: ActorDep, services: ServicesDep,
                   after: After = None) -> AllocationOut:
    """An allocation; a member sees only their own line."""
    wait_for(services, after)
    return services.queries.allocations.get(actor, allocation_id)


@router.get("/{allocation_id}/explain", response_model=ExplainOut)
def explain_line(allocation_id: AllocationId, actor: ActorDep, services: ServicesDep,
                 member_id: Annotated[str | None, Query(min_length=1, max_length=64, description="whose line; "
                                         "default the caller's", json_schema_extra={"pattern": MEMBER})] = None,
                 after: After = None) -> ExplainOut:
    """How one member's line was computed, step by step (a member: only their own line)."""
    wait_for(services, after)
    return services.queries.allocations.explain(actor, allocation_id, member_id)


@router.post("/{allocation_id}/approve", response_model=CommandOut)
def approve(allocation_id: AllocationId, actor: Money, services: ServicesDep) -> dict:
    """Finance approves the allocation: its lines become payable."""
    return recorded(services.app.approve_allocation(actor, allocation_id))


@router.post("/{allocation_id}/disputes", status_code=201, response_model=StatusOut)
def raise_dispute(allocation_id: AllocationId, body: DisputeIn, actor: Disputer, services: ServicesDep,
                  key: IdempotencyKey = None) -> dict:
    """A member disputes their own line, with a reason."""
    return recorded(services.app.raise_dispute(actor, allocation_id, member_id=body.member_id,
                                               reason=body.reason, dispute_id=created_id(actor, key)))

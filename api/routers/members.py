"""Members of the selling team."""

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import ActorDep, Admin, After, Cursor, Limit, MemberPath, Search, ServicesDep, wait_for
from api.schemas import PROBLEMS, CommandOut, Department, MemberIn, MemberOut, recorded
from queries.lists import MemberPageOut
from queries.members import MemberBoardOut

router = APIRouter(prefix="/v1/members", tags=["members"], responses=PROBLEMS)


@router.get("", response_model=MemberPageOut)
def list_members(
        actor: ActorDep, services: ServicesDep,
        department: Annotated[Department | None, Query(description="members of this department")] = None,
        team: Annotated[str | None, Query(min_length=1, max_length=100,
                                          description="members of this team")] = None,
        q: Search = None,
        cursor: Cursor = None,
        limit: Limit = 50,
        after: After = None) -> MemberPageOut:
    """The directory, for any token: each member's id, name, department and team (no money), by
    name then id, a page at a time: pass a page's `next` as `cursor` for the one after it."""
    wait_for(services, after)
    return services.queries.lists.members(actor, department=department, team=team, q=q, cursor=cursor,
                                          limit=limit)


@router.post("", status_code=201, response_model=CommandOut)
def register_member(body: MemberIn, actor: Admin, services: ServicesDep) -> dict:
    """Register a member with their department, and for payroll their employee id and cost center (admin)."""
    return recorded(services.app.register_member(actor, body.id, body.name, body.department,
                                                 team=body.team, employee_id=body.employee_id,
                                                 cost_center=body.cost_center))


@router.get("/{member_id}", response_model=MemberOut)
def get_member(member_id: MemberPath, actor: ActorDep, services: ServicesDep) -> dict:
    """A member's name, department and team."""
    return services.app.member(member_id)


@router.get("/{member_id}/board", response_model=MemberBoardOut, response_model_exclude_unset=True)
def board(member_id: MemberPath, actor: ActorDep, services: ServicesDep,
          after: After = None) -> MemberBoardOut:
    """My tasks, requests to me and from me, my contributions, what I earned and what I would if
    my open deals were won today (never added up).

    `contributions` lists the latest 100 of `contributions_total`; `points` counts them all. Tasks,
    requests and disputes are every open one and the latest 100 closed ones (`list_limits`).
    """
    wait_for(services, after)
    return services.queries.members.board(actor, member_id)

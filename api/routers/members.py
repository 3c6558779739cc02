"""Members of the selling team."""

from fastapi import APIRouter

from api.deps import ActorDep, Admin, After, MemberPath, ServicesDep, wait_for
from api.schemas import PROBLEMS, CommandOut, MemberIn, MemberOut, recorded
from queries.members import MemberBoardOut

router = APIRouter(prefix="/v1/members", tags=["members"], responses=PROBLEMS)


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

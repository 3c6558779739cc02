"""Members of the selling team."""

from uuid import UUID

from fastapi import APIRouter

from api.access import require_own
from api.deps import ActorDep, Admin, After, MemberPath, ServicesDep, wait_for
from api.schemas import PROBLEMS, CommandOut, MemberBoardOut, MemberIn, MemberOut, recorded
from domain.aggregates import Allocation
from domain.exceptions import MemberNotFound
from projections.allocations import VIEW as ALLOCATIONS
from projections.board import VIEW as BOARDS
from projections.members import VIEW as MEMBERS
from projections.members import MemberBoardProjection, present_member_board

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
def board(member_id: MemberPath, actor: ActorDep, services: ServicesDep, after: After = None) -> dict:
    """My tasks, requests to me and from me, my contributions, what I earned and what I would if
    my open deals were won today (never added up).

    `contributions` lists the latest 100 of `contributions_total`; `points` counts them all. Tasks,
    requests and disputes are every open one and the latest 100 closed ones (`list_limits`).
    """
    wait_for(services, after)
    require_own(actor, member_id)
    position = services.views.position(MemberBoardProjection.name)
    doc = services.views.get(MEMBERS, member_id)
    if doc is None:
        raise MemberNotFound(f"no member {member_id}", field="member_id")
    today = services.app.clock().date()
    department = doc.get("department")
    return present_member_board(
        doc, today=today, position=position, policy=services.app.incentive_policy_in_force(today),
        grading=services.app.policy_in_force("opportunity-grading", today),
        board_of=lambda oid: services.views.get(BOARDS, oid),
        allocation_of=lambda oid: services.views.get(
            ALLOCATIONS, str(Allocation.create_id(UUID(oid)))),
        department_doc=services.views.get(MEMBERS, f"department:{department}") if department else None)

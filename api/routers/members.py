"""Members of the selling team."""

from fastapi import APIRouter

from api.deps import ActorDep, Admin, ServicesDep
from api.schemas import PROBLEMS, CommandOut, MemberIn, MemberOut, recorded

router = APIRouter(prefix="/v1/members", tags=["members"], responses=PROBLEMS)


@router.post("", status_code=201, response_model=CommandOut)
def register_member(body: MemberIn, actor: Admin, services: ServicesDep) -> dict:
    """Register a member with their department (admin)."""
    return recorded(services.app.register_member(actor, body.id, body.name, body.department))


@router.get("/{member_id}", response_model=MemberOut)
def get_member(member_id: str, actor: ActorDep, services: ServicesDep) -> dict:
    """A member's name and department."""
    return services.app.member(member_id)

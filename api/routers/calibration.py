"""Calibration: how credible each rep's, team's and standard version's win probabilities are."""

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from api.access import reads_all
from api.deps import ActorDep, After, ServicesDep, wait_for
from api.schemas import PROBLEMS, CalibrationOut
from domain.exceptions import MemberNotFound
from projections.calibration import present_calibration

router = APIRouter(prefix="/v1/calibration", tags=["calibration"], responses=PROBLEMS)


@router.get("", response_model=CalibrationOut, response_model_by_alias=True)
def calibration(actor: ActorDep, services: ServicesDep,
                by: Annotated[Literal["member", "team", "standard_version"], Query()] = "member",
                after: After = None) -> dict:
    """Brier score and a 10-bin reliability table of closed deals' last assessments.

    Leads, finance and auditors see every group. A member sees their own group by member, their
    own team's by team, and every standard version (the standard is the company's, not a person's).
    """
    wait_for(services, after)
    return present_calibration(services.views, by, only_key=_own_group(services, actor, by))


def _own_group(services: ServicesDep, actor: ActorDep, by: str) -> str | None:
    if reads_all(actor) or by == "standard_version":
        return None
    if by == "member":
        return f"member:{actor.member_id}"
    try:
        return f"team:{services.app.member(actor.member_id)['team']}"
    except MemberNotFound:
        return "team:"  # not a registered member: no team, no group


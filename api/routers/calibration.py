"""Calibration: how credible each rep's, team's and standard version's win probabilities are."""

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from api.access import reads_all
from api.deps import ActorDep, After, ServicesDep, wait_for
from api.schemas import PROBLEMS, CalibrationOut
from projections.calibration import present_calibration

router = APIRouter(prefix="/v1/calibration", tags=["calibration"], responses=PROBLEMS)


@router.get("", response_model=CalibrationOut, response_model_by_alias=True)
def calibration(actor: ActorDep, services: ServicesDep,
                by: Annotated[Literal["member", "team", "standard_version"], Query()] = "member",
                after: After = None) -> dict:
    """Brier score and a 10-bin reliability table of closed deals' last assessments.

    By member, a member sees only their own group; leads, finance and auditors see all.
    """
    wait_for(services, after)
    only = None if reads_all(actor) or by != "member" else f"member:{actor.member_id}"
    return present_calibration(services.views, by, only_key=only)

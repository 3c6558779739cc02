"""Calibration: how credible each rep's, team's and standard version's win probabilities are."""

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from api.deps import ActorDep, After, ServicesDep, wait_for
from api.schemas import PROBLEMS
from queries.calibration import CalibrationOut

router = APIRouter(prefix="/v1/calibration", tags=["calibration"], responses=PROBLEMS)


@router.get("", response_model=CalibrationOut, response_model_by_alias=True)
def calibration(actor: ActorDep, services: ServicesDep,
                by: Annotated[Literal["member", "team", "standard_version"], Query()] = "member",
                after: After = None) -> CalibrationOut:
    """Brier score and a 10-bin reliability table of closed deals' last assessments.

    Leads, finance and auditors see every group. A member sees their own group by member, their
    own team's by team, and every standard version (the standard is the company's, not a person's).
    """
    wait_for(services, after)
    return services.queries.calibration.by(actor, by)

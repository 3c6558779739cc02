"""Policies: versioned, effective-dated data the business owns."""

from typing import Annotated

from fastapi import APIRouter, Depends

from api.deps import ActorDep, Finance, ServicesDep
from api.schemas import PROBLEMS, CommandOut, IncentivePolicyIn, PolicyVersionsOut, recorded
from domain.exceptions import NotFound

router = APIRouter(prefix="/v1/policies", tags=["policies"], responses=PROBLEMS)
KINDS = ("incentive",)


def _known(kind: str) -> str:
    if kind not in KINDS:
        raise NotFound(f"no policy kind {kind!r}; known kinds: {', '.join(KINDS)}", field="kind")
    return kind


@router.get("/{kind}", response_model=PolicyVersionsOut)
def list_versions(kind: Annotated[str, Depends(_known)], actor: ActorDep,
                  services: ServicesDep) -> dict:
    """Every version of a policy, oldest first, each with its content hash."""
    return {"kind": kind, "versions": [p.as_dict() for p in services.app.policies("incentive")]}


@router.post("/{kind}", status_code=201, response_model=CommandOut)
def add_incentive_version(actor: Finance, kind: Annotated[str, Depends(_known)],
                          body: IncentivePolicyIn, services: ServicesDep) -> dict:
    """Add a version of the incentive policy (finance); it applies to deals closed from its date."""
    return recorded(services.app.add_policy(actor, "incentive", body.model_dump()))

"""Policies: versioned, effective-dated data the business owns."""

from fastapi import APIRouter

from api.deps import ActorDep, Finance, ServicesDep
from api.schemas import IncentivePolicyIn, recorded
from domain.exceptions import NotFound

router = APIRouter(prefix="/v1/policies", tags=["policies"])
KINDS = ("incentive",)


def _known(kind: str) -> None:
    if kind not in KINDS:
        raise NotFound(f"no policy kind {kind!r}; known kinds: {', '.join(KINDS)}", field="kind")


@router.get("/{kind}")
def list_versions(kind: str, actor: ActorDep, services: ServicesDep) -> dict:
    """Every version of a policy, oldest first, each with its content hash."""
    _known(kind)
    return {"kind": kind, "versions": [p.as_dict() for p in services.app.incentive_policies()]}


@router.post("/incentive", status_code=201)
def add_incentive_version(body: IncentivePolicyIn, actor: Finance, services: ServicesDep) -> dict:
    """Add a version of the incentive policy (finance); it applies to deals closed from its date."""
    return recorded(services.app.add_incentive_policy(actor, body.model_dump()))

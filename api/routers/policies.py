"""Policies: versioned, effective-dated data the business owns."""

from typing import Annotated, Any

from fastapi import APIRouter, Body

from api.deps import ActorDep, PolicyKind, PolicySetter, ServicesDep
from api.schemas import PROBLEMS, CommandOut, PolicyVersionsOut, recorded
from domain.aggregates import DEFAULT_POLICY_DOCUMENTS

EXAMPLE = {**DEFAULT_POLICY_DOCUMENTS["relationship-standard"], "name": "2027 standard",
           "effective_from": "2027-01-01"}
router = APIRouter(prefix="/v1/policies", tags=["policies"], responses=PROBLEMS)


@router.get("/{kind}", response_model=PolicyVersionsOut)
def list_versions(kind: PolicyKind, actor: ActorDep, services: ServicesDep) -> dict:
    """Every version of a kind of policy, oldest first, each with its content hash."""
    return {"kind": kind, "versions": [p.as_dict() for p in services.app.policies(kind)]}


@router.post("/{kind}", status_code=201, response_model=CommandOut)
def add_version(kind: PolicyKind, actor: PolicySetter, services: ServicesDep,
                document: Annotated[dict[str, Any], Body(
                    description="the policy document; its format per kind is in the README",
                    examples=[EXAMPLE])]) -> dict:
    """Add a version of a policy (finance); it applies from its effective date.

    Kinds: account-grading, opportunity-grading, relationship-standard, incentive. A new account
    grading version already in force regrades every account.
    """
    return recorded(services.app.add_policy(actor, kind, document))

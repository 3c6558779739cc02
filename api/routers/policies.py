"""Policies: versioned, effective-dated data the business owns.

Each kind has a path of its own, `/v1/policies/<kind>`, and its POST takes that kind's document
(api/policy_documents.py): OpenAPI shows four typed operations where one took any object, so a
client generated from it gets one typed call per kind, and a path answers exactly the methods its
entry lists. A kind none of them names reaches the two routes below them, left out of the
document, and is 404 naming `kind` (as before, when one route took every kind).
"""

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Body

from api.deps import ActorDep, PolicySetter, ServicesDep
from api.policy_documents import (
    POLICY_DOCUMENTS,
    AccountGradingPolicyIn,
    IncentivePolicyIn,
    OpportunityGradingPolicyIn,
    PolicyDocument,
    RelationshipStandardIn,
)
from api.schemas import PROBLEMS, CommandOut, PolicyAddedOut, PolicyVersionsOut, recorded
from domain.application import Actor

router = APIRouter(prefix="/v1/policies", tags=["policies"], responses=PROBLEMS)


def _added(services: ServicesDep, actor: Actor, document: PolicyDocument) -> dict:
    return recorded(services.app.add_policy(actor, document.kind, document.document))


@router.post("/account-grading", status_code=201, response_model=PolicyAddedOut,
             response_model_exclude_unset=True)
def add_account_grading_version(actor: PolicySetter, services: ServicesDep,
                                document: AccountGradingPolicyIn) -> dict:
    """Add a version of the account grading policy (finance); it applies from its effective date.

    A version already in force regrades every account right after it is saved (`regraded` counts
    them); one dated later waits for `POST /v1/accounts/regrade`.
    """
    return _added(services, actor, document)


@router.post("/opportunity-grading", status_code=201, response_model=PolicyAddedOut,
             response_model_exclude_unset=True)
def add_opportunity_grading_version(actor: PolicySetter, services: ServicesDep,
                                    document: OpportunityGradingPolicyIn) -> dict:
    """Add a version of the opportunity grading policy (finance); it applies from its effective
    date.

    A version already in force regrades every open opportunity right after it is saved
    (`regraded` counts them); one dated later waits for `POST /v1/opportunities/regrade`.
    """
    return _added(services, actor, document)


@router.post("/relationship-standard", status_code=201, response_model=PolicyAddedOut,
             response_model_exclude_unset=True)
def add_relationship_standard_version(actor: PolicySetter, services: ServicesDep,
                                      document: RelationshipStandardIn) -> dict:
    """Add a version of the relationship standard (finance); assessments made from its effective
    date answer its criteria."""
    return _added(services, actor, document)


@router.post("/incentive", status_code=201, response_model=PolicyAddedOut,
             response_model_exclude_unset=True)
def add_incentive_version(actor: PolicySetter, services: ServicesDep, document: IncentivePolicyIn) -> dict:
    """Add a version of the incentive policy (finance); a win takes the version in force on its close
    date."""
    return _added(services, actor, document)


def _lists(kind: str) -> Callable[..., dict]:
    def list_versions(actor: ActorDep, services: ServicesDep) -> dict:
        return {"kind": kind, "versions": [p.as_dict() for p in services.app.policies(kind)]}

    return list_versions


for _kind in POLICY_DOCUMENTS:
    router.get(f"/{_kind}", response_model=PolicyVersionsOut, name=f"list_{_kind}_versions",
               description=f"Every version of the {_kind} policy, oldest first, each with its "
                           "content hash (any token).")(_lists(_kind))


@router.get("/{kind}", response_model=PolicyVersionsOut, include_in_schema=False)
def list_versions_of_another_kind(kind: str, actor: ActorDep, services: ServicesDep) -> dict:
    """A kind the routes above do not name: the domain answers 404 naming `kind`."""
    return {"kind": kind, "versions": [p.as_dict() for p in services.app.policies(kind)]}


@router.post("/{kind}", status_code=201, response_model=CommandOut, include_in_schema=False)
def add_version_of_another_kind(kind: str, actor: PolicySetter, services: ServicesDep,
                                document: Annotated[dict[str, Any], Body()]) -> dict:
    """A kind the routes above do not name: the domain answers 404 naming `kind`."""
    return recorded(services.app.add_policy(actor, kind, document))

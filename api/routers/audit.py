"""The audit chain: verify the stored events against it, and read it to compare with your own."""

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import After, ServicesDep, allow, wait_for
from api.schemas import PROBLEMS
from domain.application import Actor
from queries.audit import ChainOut, VerifyOut

router = APIRouter(prefix="/v1/audit", tags=["audit"], responses=PROBLEMS)

Auditors = Annotated[Actor, allow("read the books")]


@router.get("/verify", response_model=VerifyOut)
def verify_chain(actor: Auditors, services: ServicesDep, after: After = None) -> VerifyOut:
    """Recompute the audit chain from the stored events and report every position that differs
    from the recorded chain (finance, auditors, admins)."""
    wait_for(services, after)
    return services.queries.audit.verify(actor)


@router.get("/chain", response_model=ChainOut)
def chain(actor: Auditors, services: ServicesDep,
          start: Annotated[int, Query(alias="from", ge=1, description="first log position")] = 1,
          limit: Annotated[int, Query(ge=1, le=1000)] = 100, after: After = None) -> ChainOut:
    """The recorded links (position, digest, chain) from a log position on, to compare with an
    auditor's own computation (finance, auditors, admins)."""
    wait_for(services, after)
    return services.queries.audit.chain(actor, start, limit)

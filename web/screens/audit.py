"""The audit screens (finance, auditors, admins): verify the chain against the stored events,
browse its recorded links from a position, and open the stored event at any position."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, Response

from api.deps import ServicesDep, wait_for
from web import auth
from web.render import PageRoute, render

router = APIRouter(include_in_schema=False, route_class=PageRoute)
PAGE = 50
LAST = 2**63 - 1  # the largest log position a store can hold: beyond it, a 422, not the store's overflow


@router.get("/audit", response_class=HTMLResponse)
def audit(request: Request, services: ServicesDep, session: auth.SignedIn,
          start: Annotated[int, Query(alias="from", ge=1, le=LAST)] = 1,
          check: Annotated[bool, Query(alias="verify")] = False) -> Response:
    """The chain's head, its links from a position, and (asked for) a verification of it all."""
    wait_for(services, None)
    reader = auth.actor(session)
    chain = services.queries.audit.chain(reader, start, PAGE)
    verified = services.queries.audit.verify(reader) if check else None
    return render(request, "audit.html", {"chain": chain, "verified": verified, "start": start},
                  session=session, follows=["audit"])


@router.get("/audit/positions/{position}", response_class=HTMLResponse)
def event(request: Request, position: Annotated[int, Path(ge=1, le=LAST)], services: ServicesDep,
          session: auth.SignedIn) -> Response:
    """The stored event at a log position, with its digest and the chain recorded there."""
    wait_for(services, None)
    found = services.queries.audit.event(auth.actor(session), position)
    return render(request, "audit_event.html", {"event": found}, session=session)

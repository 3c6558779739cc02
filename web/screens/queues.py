"""The queues (issue 13): work waiting for confirmation, allocations waiting for approval, and
disputes waiting for a decision. Each page reads through `services.queries.queues` (which keeps to
who may see what) and each form posts through the same Application commands as the JSON API."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.deps import ServicesDep, wait_for
from api.errors import status_of
from domain.exceptions import (
    AllocationAlreadyApproved,
    ContributionAlreadyConfirmed,
    DomainError,
    NotFound,
    TransitionRefused,
)
from storage.sessions import Session
from web import auth
from web.render import PageRoute, render

router = APIRouter(include_in_schema=False, route_class=PageRoute)

After = Annotated[int | None, Query(ge=0)]


# -- confirmations --------------------------------------------------------------------------------

@router.get("/queues/confirmations", response_class=HTMLResponse)
def confirmations(request: Request, services: ServicesDep, session: auth.SignedIn,
                  after: After = None) -> Response:
    """Others' work on the deals I am the AR of (a lead: every open deal), oldest first."""
    wait_for(services, after)
    queue = services.queries.queues.confirmations(auth.actor(session))
    return render(request, "queue_confirmations.html", {"queue": queue, "position": queue.position},
                  session=session, follows=["boards"])


@router.post("/queues/confirmations/{opportunity_id}/{contribution_id}/confirm")
def confirm(request: Request, opportunity_id: str, contribution_id: str, services: ServicesDep,
            session: auth.SignedIn, csrf: Annotated[str | None, Form()] = None) -> Response:
    """Confirm someone else's work from the queue; the same button pressed twice confirms once."""
    auth.check_post(request, session, csrf, may="work")
    try:
        recorded = services.app.confirm_contribution(auth.actor(session), opportunity_id,
                                                     contribution_id)
    except ContributionAlreadyConfirmed:  # a double submit, or confirmed meanwhile: nothing to do
        return RedirectResponse("/queues/confirmations", status_code=303)
    return RedirectResponse(f"/queues/confirmations?after={recorded.position}", status_code=303)


# -- approvals ------------------------------------------------------------------------------------

@router.get("/queues/approvals", response_class=HTMLResponse)
def approvals(request: Request, services: ServicesDep, session: auth.SignedIn,
              after: After = None) -> Response:
    """Finance's queue of proposed allocations, each with what to look at twice (others: 403)."""
    wait_for(services, after)
    queue = services.queries.queues.approvals(auth.actor(session))
    return render(request, "queue_approvals.html", {"queue": queue, "position": queue.position},
                  session=session, follows=["allocations"])


@router.post("/queues/approvals/{allocation_id}/approve")
def approve(request: Request, allocation_id: str, services: ServicesDep, session: auth.SignedIn,
            csrf: Annotated[str | None, Form()] = None) -> Response:
    """Finance approves a split it has no line in (the domain refuses anything else: a 403 page)."""
    auth.check_post(request, session, csrf)
    try:
        recorded = services.app.approve_allocation(auth.actor(session), allocation_id)
    except AllocationAlreadyApproved:  # a double submit, or another approved it meanwhile
        return RedirectResponse("/queues/approvals", status_code=303)
    return RedirectResponse(f"/queues/approvals?after={recorded.position}", status_code=303)


# -- disputes -------------------------------------------------------------------------------------

@router.get("/queues/disputes", response_class=HTMLResponse)
def disputes(request: Request, services: ServicesDep, session: auth.SignedIn,
             after: After = None) -> Response:
    """My disputes; for finance, the open disputes by age with a form to decide each."""
    wait_for(services, after)
    return _disputes_page(request, services, session)


@router.post("/queues/disputes/{dispute_id}/resolve")
def resolve(request: Request, dispute_id: str, services: ServicesDep, session: auth.SignedIn,
            csrf: Annotated[str | None, Form()] = None, decision: Annotated[str, Form()] = "",
            reason: Annotated[str, Form()] = "",
            corrected_amount: Annotated[str, Form()] = "") -> Response:
    """Finance rejects a dispute, or upholds it with the corrected amount, with a written reason.
    A refusal shows beside its field, with its status, and records nothing."""
    auth.check_post(request, session, csrf)
    try:
        recorded = services.app.resolve_dispute(
            auth.actor(session), dispute_id, decision=decision, reason=reason,
            corrected_amount=corrected_amount.strip() or None)
    except NotFound:
        raise  # what the reader may not see: the 404 page
    except DomainError as refused:
        if isinstance(refused, TransitionRefused) and _decided_by(services, session, dispute_id, decision):
            return RedirectResponse("/queues/disputes", status_code=303)  # the same form sent twice
        wait_for(services, None)
        values = {"decision": decision, "reason": reason, "corrected_amount": corrected_amount}
        return _disputes_page(request, services, session, refused=refused, refused_id=dispute_id,
                              values=values, status_code=status_of(refused))
    return RedirectResponse(f"/queues/disputes?after={recorded.position}", status_code=303)


def _decided_by(services: ServicesDep, session: Session, dispute_id: str, decision: str) -> bool:
    """Whether the reader already decided this dispute this way (a double submit, not a conflict)."""
    wait_for(services, None)
    resolution = services.queries.allocations.dispute(auth.actor(session), dispute_id).resolution
    return resolution is not None and (resolution.decision, resolution.by) == (
        decision, session.member_id)


def _disputes_page(request: Request, services: ServicesDep, session: Session, *,
                   refused: DomainError | None = None, refused_id: str | None = None,
                   values: dict | None = None, status_code: int = 200) -> Response:
    queue = services.queries.queues.disputes(auth.actor(session))
    shown = refused_id is not None and any(d.id == refused_id and d.resolvable for d in queue.open)
    return render(request, "queue_disputes.html",
                  {"queue": queue, "position": queue.position, "refused": refused,
                   "refused_id": refused_id if shown else None, "values": values or {}},
                  session=session, status_code=status_code, follows=["allocations"])

"""The web app's pages and fragments: each reads through the same query objects as the JSON API
(so a reader sees exactly what the API shows them) and each form posts through the same
Application commands, with a fresh Idempotency-Key so that a double submit records once."""

from __future__ import annotations

from typing import Annotated
from uuid import uuid5

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.deps import IDEMPOTENT_IDS, ServicesDep, wait_for
from api.errors import status_of
from domain.application import Actor
from domain.exceptions import ContributionAlreadyRecorded, DomainError
from queries.members import MemberBoardOut
from web import auth
from web.render import PageRoute, render
from web.screens.opportunity import board_context, page_context

router = APIRouter(include_in_schema=False, route_class=PageRoute)


@router.get("/signin")
def signin(request: Request, services: ServicesDep, code: str | None = None) -> Response:
    """Opening a sign-in link starts a session and drops the code from the address bar."""
    if code is None:
        return render(request, "signin.html", {})
    session = services.sessions.redeem(code, services.settings.session_seconds)
    if session is None:
        return render(request, "signin.html", {"refused": True}, status_code=401)
    response = RedirectResponse("/", status_code=303)
    auth.start(response, request, session)
    return response


@router.post("/signout")
def signout(request: Request, services: ServicesDep, session: auth.SignedIn,
            csrf: Annotated[str | None, Form()] = None) -> Response:
    auth.check_post(request, session, csrf)
    services.sessions.end(session.id)
    response = RedirectResponse("/signin", status_code=303)
    auth.end(response, request)
    return response


@router.get("/", response_class=HTMLResponse)
def desk(request: Request, services: ServicesDep, session: auth.SignedIn,
         after: Annotated[int | None, Query(ge=0)] = None) -> Response:
    """My desk: what waits on me, my money (payable now, held, paid, adjustments), my deals."""
    wait_for(services, after)
    me = auth.actor(session)
    board = services.queries.members.board(me, me.member_id)
    money = services.queries.members.money(me, me.member_id)
    return render(request, "desk.html", {"board": board, "money": money,
                                         "topics": _desk_topics(me, board),
                                         "position": board.position}, session=session)


DESK_DEALS = 50  # the desk follows this many of my open deals one by one, and beyond, every board


def _desk_topics(me: Actor, board: MemberBoardOut) -> list[str]:
    """My board; my open deals' boards, whose changes move my projected line; the payables, whose
    month close moves my money from payable to paid."""
    deals = [f"board:{deal.opportunity_id}" for deal in board.projected.opportunities]
    return [f"member:{me.member_id}", *(deals if len(deals) <= DESK_DEALS else ["boards"]), "payables"]


@router.get("/desk", response_class=HTMLResponse)
def desk_region(request: Request, services: ServicesDep, session: auth.SignedIn) -> Response:
    """The desk's region alone, re-fetched when the page's stream says my board changed (an
    allocation event that moves my money moves my board: projections/members.py)."""
    wait_for(services, None)
    me = auth.actor(session)
    board = services.queries.members.board(me, me.member_id)
    money = services.queries.members.money(me, me.member_id)
    return render(request, "_desk.html", {"board": board, "money": money}, session=session)


@router.get("/opportunities/{opportunity_id}", response_class=HTMLResponse)
def opportunity(request: Request, opportunity_id: str, services: ServicesDep, session: auth.SignedIn,
                after: Annotated[int | None, Query(ge=0)] = None) -> Response:
    """An opportunity's board, live; the forms of what the reader may do on it."""
    wait_for(services, after)
    board = services.queries.boards.board(auth.actor(session), opportunity_id)
    return render(request, "opportunity.html", page_context(services, session, board), session=session)


@router.get("/opportunities/{opportunity_id}/board", response_class=HTMLResponse)
def opportunity_board(request: Request, opportunity_id: str, services: ServicesDep,
                      session: auth.SignedIn) -> Response:
    """The board region alone, re-fetched when the page's stream says the board changed."""
    wait_for(services, None)
    board = services.queries.boards.board(auth.actor(session), opportunity_id)
    return render(request, "_board.html", board_context(services, session, board), session=session)


@router.post("/opportunities/{opportunity_id}/contributions")
def record_contribution(request: Request, opportunity_id: str, services: ServicesDep,
                        session: auth.SignedIn, kind: Annotated[str, Form()],
                        summary: Annotated[str, Form()], occurred_at: Annotated[str, Form()],
                        key: Annotated[str, Form()], csrf: Annotated[str | None, Form()] = None,
                        hours: Annotated[str, Form()] = "", evidence_url: Annotated[str, Form()] = "",
                        ) -> Response:
    """Record my own work on the deal; a double submit (the same form's key) records it once."""
    auth.check_post(request, session, csrf, may="work")
    me = auth.actor(session)
    try:
        recorded = services.app.record_contribution(
            me, opportunity_id, member_id=me.member_id, kind=kind, summary=summary,
            occurred_at=_utc(occurred_at), hours=hours or None, evidence_url=evidence_url or None,
            contribution_id=uuid5(IDEMPOTENT_IDS, f"{me.member_id}:{key}"))
    except ContributionAlreadyRecorded:  # the same form sent twice
        return RedirectResponse(f"/opportunities/{opportunity_id}", status_code=303)
    except DomainError as refused:
        board = services.queries.boards.board(me, opportunity_id)
        values = {"kind": kind, "summary": summary, "occurred_at": occurred_at, "hours": hours,
                  "evidence_url": evidence_url}
        return render(request, "opportunity.html",
                      {**page_context(services, session, board), "refused": refused, "values": values},
                      session=session, status_code=status_of(refused))
    return RedirectResponse(f"/opportunities/{opportunity_id}?after={recorded.position}", status_code=303)


@router.post("/opportunities/{opportunity_id}/contributions/{contribution_id}/confirm")
def confirm_contribution(request: Request, opportunity_id: str, contribution_id: str,
                         services: ServicesDep, session: auth.SignedIn,
                         csrf: Annotated[str | None, Form()] = None) -> Response:
    """The AR or a lead confirms someone else's work."""
    auth.check_post(request, session, csrf, may="work")
    recorded = services.app.confirm_contribution(auth.actor(session), opportunity_id, contribution_id)
    return RedirectResponse(f"/opportunities/{opportunity_id}?after={recorded.position}", status_code=303)


def _utc(local: str) -> str:
    """A `datetime-local` field's value, read as UTC (the form says so)."""
    return local if local.endswith("Z") or "+" in local[10:] else f"{local}Z"

"""The lists (issue 13): deals (`/opportunities`), accounts, members and allocations, each with a
filter form and a search box sent by GET, a page at a time with a "Next" link carrying the cursor,
each row linking to its own page.

Each reads through `services.queries.lists`, the query the JSON API's list routes answer with, so
a member lists only the deals they are or were on, the accounts whose team they are on and the
allocations of their deals (whether they have a line, never an amount); a filter the query refuses
(an unknown state, a malformed cursor) is the 422 page naming it.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from api.deps import ServicesDep, wait_for
from domain.aggregates import DEPARTMENTS
from domain.grading import ACCOUNT_GRADES
from domain.policy import GRADES
from queries.lists import LIMIT, STATES, STATUSES
from storage.sessions import Session
from web import auth
from web.render import PageRoute, render

router = APIRouter(include_in_schema=False, route_class=PageRoute)

Text = Annotated[str, Query(max_length=2048)]
After = Annotated[int | None, Query(ge=0)]
Limit = Annotated[int, Query(ge=1, le=200)]


def _given(value: str) -> str | None:
    """A form's field: blank is not given."""
    return value.strip() or None


def _page(request: Request, session: Session, template: str, page: Any, filters: dict[str, str],
          limit: int, options: dict[str, tuple[str, ...]], follows: str) -> Response:
    """The list's page: the rows, the filters as sent (for the form) and the link to the next page."""
    kept = {name: value for name, value in filters.items() if value.strip()}
    if limit != LIMIT:
        kept["limit"] = str(limit)
    next_url = f"{request.url.path}?{urlencode({**kept, 'cursor': page.next})}" if page.next else None
    return render(request, template, {"page": page, "filters": filters, "next_url": next_url,
                                      "options": options, "position": page.position,
                                      "filtered": bool(kept)}, session=session, follows=[follows])


@router.get("/opportunities", response_class=HTMLResponse)
def opportunities(request: Request, services: ServicesDep, session: auth.SignedIn,
                  state: Text = "", grade: Text = "", member: Text = "", account: Text = "",
                  q: Text = "", cursor: Text = "", limit: Limit = LIMIT, after: After = None) -> Response:
    """The deals I may see (a member: those I am or was on), by name."""
    wait_for(services, after)
    page = services.queries.lists.opportunities(
        auth.actor(session), state=_given(state), grade=_given(grade), member=_given(member),
        account=_given(account), q=_given(q), cursor=_given(cursor), limit=limit)
    filters = {"state": state, "grade": grade, "member": member, "account": account, "q": q}
    return _page(request, session, "list_opportunities.html", page, filters, limit,
                 {"state": STATES, "grade": GRADES}, "boards")


@router.get("/accounts", response_class=HTMLResponse)
def accounts(request: Request, services: ServicesDep, session: auth.SignedIn, grade: Text = "",
             q: Text = "", cursor: Text = "", limit: Limit = LIMIT, after: After = None) -> Response:
    """The accounts I may see (a member: those whose team I am on), by name."""
    wait_for(services, after)
    page = services.queries.lists.accounts(auth.actor(session), grade=_given(grade), q=_given(q),
                                           cursor=_given(cursor), limit=limit)
    return _page(request, session, "list_accounts.html", page, {"grade": grade, "q": q}, limit,
                 {"grade": ACCOUNT_GRADES}, "accounts")


@router.get("/members", response_class=HTMLResponse)
def members(request: Request, services: ServicesDep, session: auth.SignedIn, department: Text = "",
            team: Text = "", q: Text = "", cursor: Text = "", limit: Limit = LIMIT,
            after: After = None) -> Response:
    """The directory: every member's name, department and team."""
    wait_for(services, after)
    page = services.queries.lists.members(auth.actor(session), department=_given(department),
                                          team=_given(team), q=_given(q), cursor=_given(cursor),
                                          limit=limit)
    return _page(request, session, "list_members.html", page,
                 {"department": department, "team": team, "q": q}, limit, {"department": DEPARTMENTS}, "members")


@router.get("/allocations", response_class=HTMLResponse)
def allocations(request: Request, services: ServicesDep, session: auth.SignedIn, status: Text = "",
                period: Text = "", member: Text = "", cursor: Text = "", limit: Limit = LIMIT,
                after: After = None) -> Response:
    """The allocations of the deals I may see; a member sees whether they have a line, no amount
    of anyone's."""
    wait_for(services, after)
    page = services.queries.lists.allocations(auth.actor(session), status=_given(status),
                                              period=_given(period), member=_given(member),
                                              cursor=_given(cursor), limit=limit)
    return _page(request, session, "list_allocations.html", page,
                 {"status": status, "period": period, "member": member}, limit, {"status": STATUSES}, "allocations")

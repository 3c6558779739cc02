"""The allocation screens: a won deal's split (the pool, its lines and the unallocated line adding up
to it, approval, the facts after it, the review flags, a 100 % bar of the pool and the waterfall
of one line) and the explanation of one line, step by step, with the form to dispute it.

Each reads through the same query objects as the JSON API, so a member sees only their own line
and another member's explanation is refused (403), a deal they are not on is a 404 page. The
dispute form posts through the Application with a fresh key, so a double submit raises it once.
"""

from __future__ import annotations

import secrets
from fractions import Fraction
from typing import Annotated, Any
from uuid import UUID, uuid5

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.deps import IDEMPOTENT_IDS, ServicesDep, wait_for
from api.errors import status_of
from domain.aggregates import Allocation
from domain.application import MAY, Actor
from domain.exceptions import DomainError, NotAllowed
from domain.money import exponent, format_amount
from queries.allocations import AllocationOut
from queries.explain import ExplainOut
from web import auth, charts
from web.render import PageRoute, render, templates

router = APIRouter(include_in_schema=False, route_class=PageRoute)


def allocation_of(opportunity_id: str) -> str:
    """The id of a won opportunity's allocation (the opportunity board links to it)."""
    return str(Allocation.create_id(UUID(str(opportunity_id))))


def exact_money(value: Fraction | int | str, currency: str) -> str:
    """Minor units, exactly, as money: "13333.33", or "13333.33⅓"-like values as n/d minor units."""
    value = charts.exact(value)
    if value.denominator == 1:
        return format_amount(int(value), currency)
    near = format_amount(charts.round_half_even(value), currency)
    return f"{value.numerator}/{value.denominator} minor units (≈ {near})"


templates.globals["allocation_of"] = allocation_of
templates.filters["exact_money"] = exact_money


# -- the allocation ---------------------------------------------------------------------------------

@router.get("/allocations/{allocation_id}", response_class=HTMLResponse)
def allocation(request: Request, allocation_id: str, services: ServicesDep, session: auth.SignedIn,
               after: Annotated[int | None, Query(ge=0)] = None,
               line: Annotated[str | None, Query(max_length=64)] = None) -> Response:
    """A won deal's split, live: a member sees only their own line."""
    wait_for(services, after)
    context = _allocation_context(services, session, allocation_id, line)
    return render(request, "allocation.html", context, session=session)


@router.get("/allocations/{allocation_id}/region", response_class=HTMLResponse)
def allocation_region(request: Request, allocation_id: str, services: ServicesDep, session: auth.SignedIn,
                      line: Annotated[str | None, Query(max_length=64)] = None) -> Response:
    """The allocation's region alone, re-fetched when the page's stream says it changed."""
    wait_for(services, None)
    context = _allocation_context(services, session, allocation_id, line)
    return render(request, "_allocation.html", context, session=session)


def _allocation_context(services: ServicesDep, session: Any, allocation_id: str,
                        line: str | None) -> dict:
    me = auth.actor(session)
    found = services.queries.allocations.get(me, allocation_id)
    members = [x.member_id for x in found.lines]
    chosen = line if line in members else me.member_id if me.member_id in members else \
        (members[0] if members else None)
    explained = (services.queries.allocations.explain(me, found.id, chosen)
                 if chosen is not None and (found.visible_lines == "all" or chosen == me.member_id) else None)
    return {"allocation": found, "me": me, "equation": _equation(found),
            "pool_bar": _pool_bar(found), "chosen": chosen,
            "waterfall": _waterfall(explained) if explained else None,
            "topics": [f"allocation:{found.id}"],
            "position": max([found.position, *(d.position for d in found.disputes)])}


def _minor(amount: str, currency: str) -> Fraction:
    return Fraction(amount) * 10 ** exponent(currency)


def _equation(found: AllocationOut) -> dict:
    """lines + unallocated = pool, with the numbers (only for a reader of every line)."""
    currency = found.pool.currency
    terms = [(x.member_id, x.amount) for x in found.lines]
    total = sum((_minor(amount, currency) for _, amount in terms), Fraction(0)) + \
        _minor(found.unallocated.amount, currency)
    return {"terms": terms, "unallocated": found.unallocated.amount, "pool": found.pool.amount,
            "sum": format_amount(int(total), currency), "holds": total == _minor(found.pool.amount, currency)}


def _pool_bar(found: AllocationOut) -> list[charts.Segment]:
    """The pool split by line plus the unallocated part; a member: their line and the rest."""
    currency = found.pool.currency
    pool = _minor(found.pool.amount, currency)
    if found.visible_lines == "own":
        mine = sum((_minor(x.amount, currency) for x in found.lines), Fraction(0))
        parts = [(x.member_id, f"{x.member_id} (my line)", _minor(x.amount, currency), "line")
                 for x in found.lines]
        parts.append(("rest", "the rest of the pool", pool - mine, "rest"))
    else:
        parts = [(x.member_id, x.member_id, _minor(x.amount, currency), "line") for x in found.lines]
        parts.append(("unallocated", "unallocated", _minor(found.unallocated.amount, currency),
                      "unallocated"))
    return charts.split_bar(parts)


def _waterfall(explained: ExplainOut) -> dict:
    steps = charts.line_steps([s.model_dump() for s in explained.steps], amount=explained.amount,
                              approved=explained.approved_amount,
                              adjustments=[a.model_dump() for a in explained.adjustments],
                              minor_units=explained.minor_units_per_unit)
    bars, zero = charts.waterfall(steps)
    return {"member_id": explained.member_id, "currency": explained.currency, "bars": bars, "zero": zero}


# -- the explanation of a line ------------------------------------------------------------------

@router.get("/allocations/{allocation_id}/members/{member_id}", response_class=HTMLResponse)
def explain_line(request: Request, allocation_id: str, member_id: str, services: ServicesDep,
                 session: auth.SignedIn, after: Annotated[int | None, Query(ge=0)] = None) -> Response:
    """How one member's line was computed, step by step (a member: only their own)."""
    wait_for(services, after)
    return render(request, "explain.html", _explain_context(services, session, allocation_id, member_id),
                  session=session, follows=[f"allocation:{allocation_id}"])


@router.post("/allocations/{allocation_id}/disputes")
def raise_dispute(request: Request, allocation_id: str, services: ServicesDep, session: auth.SignedIn,
                  reason: Annotated[str, Form()], key: Annotated[str, Form()],
                  csrf: Annotated[str | None, Form()] = None) -> Response:
    """A member disputes their own line; a double submit (the same form's key) raises it once."""
    auth.check_post(request, session, csrf)
    me = auth.actor(session)
    try:
        if me.role not in MAY["dispute"]:
            raise NotAllowed(f"the {me.role} role may not dispute a line", field="reason")
        raised = services.app.raise_dispute(me, allocation_id, member_id=me.member_id, reason=reason,
                                            dispute_id=uuid5(IDEMPOTENT_IDS, f"{me.member_id}:{key}"))
    except DomainError as refused:  # a page the reader may not see refuses itself as it renders
        context = _explain_context(services, session, allocation_id, me.member_id)
        return render(request, "explain.html", {**context, "refused": refused, "values": {"reason": reason}},
                      session=session, status_code=status_of(refused))
    return RedirectResponse(f"/allocations/{allocation_id}/members/{me.member_id}?after={raised.position}",
                            status_code=303)


def _explain_context(services: ServicesDep, session: Any, allocation_id: str, member_id: str) -> dict:
    me = auth.actor(session)
    explained = services.queries.allocations.explain(me, allocation_id, member_id)
    found = services.queries.allocations.get(me, allocation_id)
    disputes = [d for d in found.disputes if d.member_id == member_id]
    return {"explained": explained, "allocation": found, "me": me, "disputes": disputes,
            "waterfall": _waterfall(explained), "key": secrets.token_urlsafe(16),
            "disputes_here": _may_dispute(me, explained, disputes), "values": {}}


def _may_dispute(me: Actor, explained: ExplainOut, disputes: list) -> bool:
    """Its own member disputes a line (an auditor changes nothing), one open dispute at a time."""
    return (explained.member_id == me.member_id and me.role in MAY["dispute"]
            and not explained.cancelled and not any(d.status == "open" for d in disputes))

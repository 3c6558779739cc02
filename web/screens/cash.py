"""The cash of a won deal, for finance: its payments, refunds and cancellation with their log
positions, the cash collected and the fraction of the held parts it releases, and the forms to
record a payment, a refund and a cancellation.

The page is its deal's, not its allocation's: the commands take the opportunity (as the JSON API's
`/v1/opportunities/{id}/payments`, `/refunds` and `/cancel`), a payment may come before the split is
approved, and the allocation page, which members read too and which re-renders itself live, is no
place for forms finance fills in. It reads through `services.queries.allocations.cash` (finance,
auditors, admins; others get the 403 page, a deal they may not see the 404 page), follows the
deal's board topic live (every one of these facts is an event of the deal), and each form posts
through the same Application command as the API route, with the API's field names and rules.

Forms are offered as the domain allows (domain.application.MAY): a payment to finance and admins
without a line in the deal's allocation (four eyes: cash releases held parts), a refund and a
cancellation to finance; the domain refuses a forged post anyway, and nothing is recorded. A
payment or refund without the ERP's id takes one derived from the form's fresh key (as the API
derives it from the Idempotency-Key), so a double submit records it once; a deal is cancelled
once, so the second post of a double submit finds it cancelled and lands on the page.
"""

from __future__ import annotations

import secrets
from fractions import Fraction
from typing import Annotated, Any
from uuid import uuid5

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.deps import IDEMPOTENT_IDS, ServicesDep, wait_for
from api.errors import status_of
from domain.application import MAY, Actor
from domain.exceptions import DomainError, NotAllowed, NotFound, OpportunityClosed
from domain.money import format_amount
from queries.allocations import DealCashOut
from storage.sessions import Session
from web import auth
from web.render import PageRoute, render, templates

router = APIRouter(include_in_schema=False, route_class=PageRoute)

After = Annotated[int | None, Query(ge=0)]
FORMS = ("payment", "refund", "cancel")


def percent(fraction: str) -> str:
    """An exact fraction ("4/19") as a percentage: exact when it is, else to two places with ≈."""
    value = Fraction(fraction) * 100
    hundredths = round(value * 100)  # half to even, as the ledger rounds
    shown = f"{hundredths // 100}.{hundredths % 100:02d}".rstrip("0").rstrip(".")
    return f"{shown} %" if value == Fraction(shown) else f"≈ {shown} %"


templates.filters["percent"] = percent


# -- the page ----------------------------------------------------------------------------------

@router.get("/opportunities/{opportunity_id}/money", response_class=HTMLResponse)
def cash(request: Request, opportunity_id: str, services: ServicesDep, session: auth.SignedIn,
         after: After = None) -> Response:
    """A won deal's payments, refunds and cancellation, live; the forms finance may use."""
    wait_for(services, after)
    return _page(request, services, session, opportunity_id)


@router.get("/opportunities/{opportunity_id}/money/region", response_class=HTMLResponse)
def cash_region(request: Request, opportunity_id: str, services: ServicesDep,
                session: auth.SignedIn) -> Response:
    """The page's facts alone, re-fetched when its stream says the deal changed (the forms stay)."""
    wait_for(services, None)
    shown = services.queries.allocations.cash(auth.actor(session), opportunity_id)
    return render(request, "_cash.html", {"deal": shown}, session=session)


# -- the forms -----------------------------------------------------------------------------------

@router.post("/opportunities/{opportunity_id}/money/payments")
def record_payment(request: Request, opportunity_id: str, services: ServicesDep, session: auth.SignedIn,
                   key: Annotated[str, Form()], csrf: Annotated[str | None, Form()] = None,
                   amount: Annotated[str, Form()] = "", currency: Annotated[str, Form()] = "",
                   received_on: Annotated[str, Form()] = "",
                   payment_id: Annotated[str, Form()] = "") -> Response:
    """Cash collected on the won deal, as POST /v1/opportunities/{id}/payments records it."""
    auth.check_post(request, session, csrf)
    me = auth.actor(session)
    given = {"amount": amount, "currency": currency, "received_on": received_on, "payment_id": payment_id}
    return _recorded(request, services, session, opportunity_id, "payment", given, lambda: (
        services.app.receive_payment(me, opportunity_id, amount=amount, currency=currency,
                                     received_on=received_on,
                                     payment_id=payment_id.strip() or _keyed(me, key))))


@router.post("/opportunities/{opportunity_id}/money/refunds")
def record_refund(request: Request, opportunity_id: str, services: ServicesDep, session: auth.SignedIn,
                  key: Annotated[str, Form()], csrf: Annotated[str | None, Form()] = None,
                  amount: Annotated[str, Form()] = "", reason: Annotated[str, Form()] = "",
                  refund_id: Annotated[str, Form()] = "") -> Response:
    """Part of the won amount goes back to the customer, as POST /v1/opportunities/{id}/refunds."""
    auth.check_post(request, session, csrf)
    me = auth.actor(session)
    given = {"amount": amount, "reason": reason, "refund_id": refund_id}
    return _recorded(request, services, session, opportunity_id, "refund", given, lambda: (
        services.app.refund(me, opportunity_id, amount=amount, reason=reason,
                            refund_id=refund_id.strip() or _keyed(me, key))))


@router.post("/opportunities/{opportunity_id}/money/cancel")
def cancel(request: Request, opportunity_id: str, services: ServicesDep, session: auth.SignedIn,
           csrf: Annotated[str | None, Form()] = None, reason: Annotated[str, Form()] = "") -> Response:
    """The won deal is cancelled, as POST /v1/opportunities/{id}/cancel: what was payable of it is
    clawed back. A second post (a double submit) finds it cancelled: the page shows by whom."""
    auth.check_post(request, session, csrf)
    me = auth.actor(session)

    def cancelled() -> Any:
        try:
            return services.app.cancel_won_deal(me, opportunity_id, reason)
        except OpportunityClosed:
            wait_for(services, None)
            shown = services.queries.allocations.cash(me, opportunity_id)
            if shown.cancellation is not None and shown.cancellation.by == me.member_id:
                return None  # mine already: the same form sent twice
            raise

    return _recorded(request, services, session, opportunity_id, "cancel", {"reason": reason}, cancelled)


def _keyed(me: Actor, key: str) -> str:
    """The id of a payment or refund the form names none for, from its fresh key: sent twice, the
    form names the same one (api/routers/opportunities.py derives it from the Idempotency-Key)."""
    return str(uuid5(IDEMPOTENT_IDS, f"{me.member_id}:{key}"))


def _recorded(request: Request, services: ServicesDep, session: Session, opportunity_id: str,
              form: str, given: dict, command: Any) -> Response:
    """Run the command: to the page at least as new as its write; a refusal of what the reader
    may not do or see is its 403 or 404 page, any other is the page with it beside its field."""
    try:
        recorded = command()
    except (NotAllowed, NotFound):
        raise
    except DomainError as refused:
        wait_for(services, None)
        return _page(request, services, session, opportunity_id, refused=refused, form=form, given=given,
                     status_code=status_of(refused))
    after = f"?after={recorded.position}" if recorded is not None else ""
    return RedirectResponse(f"/opportunities/{opportunity_id}/money{after}", status_code=303)


def _page(request: Request, services: ServicesDep, session: Session, opportunity_id: str, *,
          refused: DomainError | None = None, form: str | None = None, given: dict | None = None,
          status_code: int = 200) -> Response:
    me = auth.actor(session)
    shown = services.queries.allocations.cash(me, opportunity_id)
    values = {name: {} for name in FORMS}
    values["payment"] = {"currency": shown.currency, "received_on": services.app.clock().date().isoformat()}
    if form is not None:
        values[form] = given or {}
    return render(request, "cash.html", {
        "deal": shown, "me": me, "offers": offers(shown, me), "refused": refused, "form": form,
        "values": values,
        "keys": {name: secrets.token_urlsafe(16) for name in ("payment", "refund")},
        "topics": [f"board:{shown.opportunity_id}"], "position": shown.position},
        session=session, status_code=status_code)


def offers(deal: DealCashOut, me: Actor) -> dict[str, str | None]:
    """Per form, None when it is offered, else why not (the domain's rules, as they stand)."""
    why: dict[str, str | None] = {}
    cancelled = "the deal is cancelled" if deal.stage == "cancelled" else None
    if me.role not in MAY["record cash"]:
        why["payment"] = f"only {' or '.join(MAY['record cash'])} record payments"
    elif me.member_id in deal.members_with_a_line:
        why["payment"] = "you have a line in this allocation: another member of finance records its payments"
    else:
        why["payment"] = cancelled or ("the deal is paid in full" if deal.outstanding == _zero(deal) else None)
    moves = None if me.role in MAY["move money"] else f"only {' or '.join(MAY['move money'])} "
    why["refund"] = (moves and f"{moves}records refunds") or cancelled or (
        "no cash was collected yet: nothing to refund" if deal.cash == _zero(deal) else None)
    why["cancel"] = (moves and f"{moves}cancels won deals") or cancelled
    return why


def _zero(deal: DealCashOut) -> str:
    return format_amount(0, deal.currency)

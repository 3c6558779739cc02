"""The opportunity page's actions: reverse a contribution with a written reason, ask a member or a
department for support, assess the relationship, seat the triangle, win or lose the deal.

Each form posts through the same Application command as its JSON API route, with the same arguments
(a blank optional field is one left out). The page offers a form only to whom the domain would not
refuse it: the rules below read the board as the use cases read the opportunity (the deal's AR,
a lead, who is on the deal, a lead's stake, the role's MAY), and the domain still decides, so a
forged post is refused as the API refuses it.

Each form carries a fresh key. A command that creates something takes its id from the key, as the
API's does from an Idempotency-Key (`created_id`); every command's answer is kept under the key as
the API keeps a keyed request's, in the transaction of its events (storage/answers.py), so the same
form sent twice records once and both posts lead to the same write. A refusal frees the key and
renders the page again, with the refusal's detail beside the field it names; nothing is recorded.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from api.deps import ServicesDep, created_id, wait_for
from api.errors import status_of
from api.idempotency import request_hash, scoped_key
from domain.aggregates import DEPARTMENTS
from domain.application import MAY, Actor, Recorded
from domain.exceptions import Conflict, DomainError, InvalidInput
from domain.policy import TRIANGLE_ROLES
from queries.board import BoardOut
from storage.answers import KEYED, PENDING, Keyed
from storage.sessions import Session
from web import auth
from web.render import PageRoute, render

router = APIRouter(include_in_schema=False, route_class=PageRoute)

FormText = Annotated[str, Form()]  # a field left blank is "", never a 422 of its own
Csrf = Annotated[str | None, Form()]
FORMS = ("request", "assess", "seat", "win", "lose")  # the page's forms beside the board's Reverse
DIRECTORY = 200  # members offered as suggestions in the member fields (the list's largest page)


# -- who may do what on the deal (the domain's rules, read off the board) ---------------------------

def on_the_deal(board: BoardOut, me: Actor) -> bool:
    """Whoever sits on the deal records their own work on it while it is open."""
    return board.stage == "open" and _is_on(board, me.member_id)


def confirms(board: BoardOut, me: Actor) -> bool:
    """The deal's AR and the leads confirm work (never their own: the page offers no button)."""
    return board.stage == "open" and (me.leads or board.triangle.AR == me.member_id)


def reversible(board: BoardOut, me: Actor) -> list[str]:
    """The contributions the reader may reverse (Contributions.reverse_contribution): the AR of an
    open deal or a lead (after the win, a lead only), never work reversed already; someone else's
    confirmed work is a lead's call, by a lead with no stake in the deal."""
    runs = (me.leads and board.stage in ("open", "won")) or (
        board.stage == "open" and board.triangle.AR == me.member_id)
    if me.role not in MAY["work"] or not runs:
        return []
    stake = _is_on(board, me.member_id) or any(
        c.member_id == me.member_id and c.status != "reversed" for c in board.contributions)
    return [c.id for c in board.contributions if c.status == "recorded" or (
        c.status == "confirmed" and (c.member_id == me.member_id or (me.leads and not stake)))]


def offered(board: BoardOut, me: Actor) -> dict[str, bool]:
    """Which of the page's forms the reader gets. Asking for support (Support.open_request) and
    assessing (Support.assess): the deal's team or a lead, while it is open; seating the triangle,
    winning and losing (Opportunities): its AR or a lead, while it is open. The role must work
    (MAY["work"], as the API's `Writer`): finance and auditors read the deal and get no form."""
    works = me.role in MAY["work"] and board.stage == "open"
    team = me.leads or _is_on(board, me.member_id)
    runs = me.leads or board.triangle.AR == me.member_id
    return {"request": works and team, "assess": works and team, "seat": works and runs,
            "win": works and runs, "lose": works and runs}


def _is_on(board: BoardOut, member_id: str) -> bool:
    seats = (board.triangle.AR, board.triangle.SR, board.triangle.FR)
    return member_id in seats or member_id in board.supporters


# -- what the board and the page render with ------------------------------------------------------

@dataclass(frozen=True)
class Refusal:
    """A refused action as the page shows it: which form (`reverse` names its contribution in
    `target`), the RFC 9457 detail and where it goes: `at` the field it names when that field is
    on the form, atop the form ("form") when it names none of them, atop the actions ("page")
    when the reader has no such form (a forged post, or the deal changed meanwhile)."""

    form: str
    target: str | None
    field: str | None
    detail: str
    at: str


def board_context(services: ServicesDep, session: Session, board: BoardOut) -> dict:
    """The board region's context (its re-fetch renders it alone): the per-contribution buttons."""
    me = auth.actor(session)
    today = services.app.clock().date()
    kinds = sorted(services.app.incentive_policy_in_force(today).kind_weights)
    return {"board": board, "me": me, "kinds": kinds, "key": secrets.token_urlsafe(16),
            "confirms": confirms(board, me), "records": on_the_deal(board, me),
            "reverses": {cid: secrets.token_urlsafe(16) for cid in reversible(board, me)},
            "topics": [f"board:{board.opportunity_id}"], "position": board.position,
            "values": {"occurred_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M")}}


def page_context(services: ServicesDep, session: Session, board: BoardOut, *,
                 refused: tuple[str, str | None, DomainError, dict] | None = None) -> dict:
    """The whole page's context: the board's, and the forms of the actions the reader may take
    (`refused`: the form, its target, the refusal and the values sent, to show them again)."""
    context = board_context(services, session, board)
    me = context["me"]
    forms = offered(board, me)
    today = services.app.clock().date().isoformat()
    standard = services.app.policy_in_force("relationship-standard", services.app.clock().date())
    criteria = {name: list(criterion.levels or ()) for name, criterion in standard.criteria.items()}
    latest = board.assessment.answers if board.assessment else {}
    values: dict[str, dict] = {"request": {}, "seat": {"role": "AR"}, "win": {"closed_on": today},
                               "lose": {"closed_on": today},
                               "assess": {f"answers.{name}": level for name, level in latest.items()}}
    refusal = None
    if refused is not None:
        form, target, error, sent = refused
        values[form if target is None else f"{form}:{target}"] = sent
        refusal = _placed(form, target, error, forms, context["reverses"], criteria, me)
    directory = (services.queries.lists.members(me, limit=DIRECTORY).items
                 if forms["request"] or forms["seat"] else [])
    return {**context, "offered": forms, "criteria": criteria, "standard": standard,
            "departments": DEPARTMENTS, "seats": TRIANGLE_ROLES, "directory": directory,
            "today": today, "action_keys": {form: secrets.token_urlsafe(16) for form in FORMS},
            "action_values": values, "refusal": refusal}


def _placed(form: str, target: str | None, error: DomainError, forms: dict[str, bool],
            reverses: dict[str, str], criteria: dict[str, list[str]], me: Actor) -> Refusal:
    """Where the page shows a refusal: beside its field if the reader's form has it."""
    fields = {"request": ("to_member", "to_department", "kind", "summary", "due"),
              "assess": tuple(f"answers.{name}" for name in criteria),
              "seat": ("role", "member_id"),
              "win": ("closed_on", "amount", *(("reason",) if me.leads else ())),
              "lose": ("reason", "closed_on"), "reverse": ("reason",)}[form]
    shown = target in reverses if form == "reverse" else forms[form]
    at = (error.field if error.field in fields else "form") if shown else "page"
    detail = f"{error.field}: {error.detail}" if error.field else error.detail  # the API's problem detail
    return Refusal(form, target, error.field, detail, at)


# -- the actions ------------------------------------------------------------------------------------

@router.post("/opportunities/{opportunity_id}/contributions/{contribution_id}/reverse")
def reverse(request: Request, opportunity_id: str, contribution_id: str, services: ServicesDep,
            session: auth.SignedIn, reason: FormText = "", key: FormText = "", csrf: Csrf = None) -> Response:
    """The AR or a lead reverses a piece of work with a written reason; it stays on the record
    (as POST /v1/opportunities/{id}/contributions/{cid}/reverse)."""
    return _act(request, services, session, opportunity_id, ("reverse", contribution_id),
                {"reason": reason}, key, csrf,
                lambda me: services.app.reverse_contribution(me, opportunity_id, contribution_id, reason))


@router.post("/opportunities/{opportunity_id}/requests")
def ask_for_support(request: Request, opportunity_id: str, services: ServicesDep,
                    session: auth.SignedIn, to_member: FormText = "", to_department: FormText = "",
                    kind: FormText = "", summary: FormText = "", due: FormText = "", key: FormText = "",
                    csrf: Csrf = None) -> Response:
    """The deal's team or a lead asks a member or a department for help (as POST
    /v1/opportunities/{id}/requests); the request's id comes from the form's key."""
    sent = {"to_member": to_member, "to_department": to_department, "kind": kind, "summary": summary,
            "due": due}
    return _act(request, services, session, opportunity_id, ("request", None), sent, key, csrf,
                lambda me: services.app.open_request(
                    me, opportunity_id, kind=kind, summary=summary, due=due,
                    to_member=_given(to_member), to_department=_given(to_department),
                    request_id=created_id(me, key or None)))


async def answers_sent(request: Request) -> dict[str, str]:
    """The assessment form's answers, one field `answers.<criterion>` each (a blank one: left out)."""
    form = await request.form()
    return {name.removeprefix("answers."): value for name, value in form.multi_items()
            if name.startswith("answers.") and isinstance(value, str) and value}


@router.post("/opportunities/{opportunity_id}/assessments")
def assess(request: Request, opportunity_id: str, services: ServicesDep, session: auth.SignedIn,
           answers: Annotated[dict[str, str], Depends(answers_sent)], key: FormText = "",
           csrf: Csrf = None) -> Response:
    """The deal's team or a lead judges the relationship by the standard in force (as POST
    /v1/opportunities/{id}/assessments); the assessment's id comes from the form's key."""
    return _act(request, services, session, opportunity_id, ("assess", None),
                {f"answers.{name}": level for name, level in answers.items()}, key, csrf,
                lambda me: services.app.assess(me, opportunity_id, answers,
                                               assessment_id=created_id(me, key or None)))


@router.post("/opportunities/{opportunity_id}/triangle")
def seat(request: Request, opportunity_id: str, services: ServicesDep, session: auth.SignedIn,
         role: FormText = "", member_id: FormText = "", key: FormText = "", csrf: Csrf = None) -> Response:
    """The AR or a lead seats a member as AR, SR or FR; a handover keeps the history (as PUT
    /v1/opportunities/{id}/triangle/{role}: a form cannot PUT, so the seat is a field)."""
    return _act(request, services, session, opportunity_id, ("seat", None),
                {"role": role, "member_id": member_id}, key, csrf,
                lambda me: services.app.assign_triangle_role(me, opportunity_id, role, member_id))


@router.post("/opportunities/{opportunity_id}/win")
def win(request: Request, opportunity_id: str, services: ServicesDep, session: auth.SignedIn,
        closed_on: FormText = "", amount: FormText = "", reason: FormText = "", key: FormText = "",
        csrf: Csrf = None) -> Response:
    """The AR or a lead wins the deal (as POST /v1/opportunities/{id}/win): at the open amount
    unless one is given; above it or dated back, it is a lead's call with a reason."""
    return _act(request, services, session, opportunity_id, ("win", None),
                {"closed_on": closed_on, "amount": amount, "reason": reason}, key, csrf,
                lambda me: services.app.win(me, opportunity_id, amount=_given(amount),
                                            closed_on=closed_on, reason=_given(reason)))


@router.post("/opportunities/{opportunity_id}/lose")
def lose(request: Request, opportunity_id: str, services: ServicesDep, session: auth.SignedIn,
         reason: FormText = "", closed_on: FormText = "", key: FormText = "", csrf: Csrf = None) -> Response:
    """The AR or a lead records the deal as lost, with a reason (as POST /v1/opportunities/{id}/lose)."""
    return _act(request, services, session, opportunity_id, ("lose", None),
                {"reason": reason, "closed_on": closed_on}, key, csrf,
                lambda me: services.app.lose(me, opportunity_id, reason=reason, closed_on=closed_on))


def _given(value: str) -> str | None:
    """A form's blank field is one left out (the API's absent member)."""
    return value if value.strip() else None


def _act(request: Request, services: ServicesDep, session: Session, opportunity_id: str,
         form: tuple[str, str | None], sent: dict[str, str], key: str, csrf: str | None,
         command: Callable[[Actor], Recorded]) -> Response:
    """Run a form's command once for its key and show the page as of the write; a refusal renders
    the page again (a deal the reader may not see: the 404 page, as the API answers)."""
    auth.check_post(request, session, csrf)
    me = auth.actor(session)
    try:
        auth.require_role(me, "work")  # the API's `Writer`
        position = _once(services, me, key, request.url.path, sent, lambda: command(me))
    except DomainError as refused:
        wait_for(services, None)
        board = services.queries.boards.board(me, opportunity_id)
        return render(request, "opportunity.html",
                      page_context(services, session, board, refused=(*form, refused, sent)),
                      session=session, status_code=status_of(refused))
    return RedirectResponse(f"/opportunities/{quote(opportunity_id, safe='')}?after={position}",
                            status_code=303)


def _once(services: ServicesDep, me: Actor, key: str, path: str, sent: dict[str, str],
          command: Callable[[], Recorded]) -> int:
    """The log position of the command's write, run once per form key: the same form sent again
    (a double click, a retry) gets the first one's answer, waiting while it is still running. The
    key is kept as the API keeps an Idempotency-Key (within the member and role, apart from the
    API's keys), its answer written with the command's events; a refusal or a failure frees it."""
    if not key:  # a form without its key: no repeat to recognise, as the API without the header
        return command().position
    if len(key) > 200 or not (key.isascii() and key.isprintable()):
        raise InvalidInput("must be at most 200 printable ASCII characters", field="key")
    scoped = scoped_key(me, f"web:{key}")
    digest = request_hash("POST", path, b"", json.dumps(sent, sort_keys=True).encode())
    deadline = time.monotonic() + services.settings.read_wait_seconds
    while (stored := services.idempotency.reserve(scoped, digest)) is not None:
        stored_hash, status, body, _ = stored
        if stored_hash != digest:
            raise Conflict("this form was sent already with other values: use the fresh form below")
        if status != PENDING:
            return json.loads(body)["position"]
        if time.monotonic() > deadline:
            raise Conflict("this form is still being recorded: reload the page in a moment")
        time.sleep(0.05)
    status, body = 500, ""
    keyed = KEYED.set(Keyed(scoped, digest, 200))
    try:
        recorded = command()
        status = 200
        body = json.dumps(recorded.document(), ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        return recorded.position
    except DomainError as refused:
        status = status_of(refused)
        raise
    finally:
        KEYED.reset(keyed)
        services.idempotency.complete(scoped, status, body, "application/json")

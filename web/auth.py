"""Who is signed in to the web app, and which posts are theirs.

A session starts from a one-time sign-in link (`goldsplit signin-link`) and lives server-side
(storage/sessions.py): the browser holds only its id, in an HttpOnly, SameSite cookie that is
Secure unless the app is opened on loopback. A post must come from this origin (its `Origin`)
and carry the session's own token (`csrf`), so another site cannot post on a member's behalf.
"""

from __future__ import annotations

import secrets
import time
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request, Response

from api.deps import get_services
from api.services import Services
from domain.application import MAY, Actor
from domain.exceptions import NotAllowed
from storage.sessions import Session

COOKIE = "goldsplit_session"
LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")


class SignInRequired(Exception):
    """No live session: the page sends the browser to sign in."""


class CrossSite(Exception):
    """A post that did not come from this origin's own forms."""


def session_of(request: Request, services: Services) -> Session | None:
    session_id = request.cookies.get(COOKIE)
    return services.sessions.get(session_id) if session_id else None


def signed_in(request: Request, services: Annotated[Services, Depends(get_services)]) -> Session:
    """The request's live session (a database read: FastAPI runs it off the event loop)."""
    session = session_of(request, services)
    if session is None:
        raise SignInRequired
    return session


SignedIn = Annotated[Session, Depends(signed_in)]


def actor(session: Session) -> Actor:
    return Actor(session.member_id, session.role)


def start(response: Response, request: Request, session: Session) -> None:
    """Hand the browser the session's cookie."""
    response.set_cookie(COOKIE, session.id, max_age=max(session.expires_at - int(time.time()), 0),
                        httponly=True, samesite="lax", path="/",
                        secure=request.url.hostname not in LOOPBACK)


def end(response: Response, request: Request) -> None:
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax",
                           secure=request.url.hostname not in LOOPBACK)


def require_role(actor: Actor, may: str) -> None:
    """The session's role may do this (the domain's MAY table, as the API's gates read it)."""
    if actor.role not in MAY[may]:
        raise NotAllowed(f"the {actor.role} role may not do this; allowed: {', '.join(MAY[may])}")


def check_post(request: Request, session: Session, csrf: str | None, may: str | None = None) -> None:
    """A post is the session's own: sent from this origin, with the session's token (and, named,
    by a role that `may` do it)."""
    origin = request.headers.get("origin")
    # the host, not the scheme: behind a proxy that ends TLS the app itself is reached over http
    if (origin is None or urlsplit(origin).netloc != request.url.netloc or csrf is None
            or not secrets.compare_digest(csrf, session.csrf)):
        raise CrossSite
    if may is not None:
        require_role(actor(session), may)

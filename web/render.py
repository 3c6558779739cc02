"""Rendering pages: the templates, the headers every page carries, and the page a refusal becomes.

Every page is sent with a Content-Security-Policy that allows scripts, styles and connections to
this origin only (no inline script), and may not be framed. A refusal on a page is a page too:
no session sends the browser to sign in; a domain refusal shows its message with its status
(404 for what the reader may not see, exactly as the API answers), and nothing else is rendered.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Sequence
from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from jinja2 import Environment, PackageLoader, select_autoescape

from api.errors import Refused, status_of
from domain.application import MAY
from domain.exceptions import DomainError
from storage.sessions import Session
from web import auth
from web.signals import read_position

VENDOR = "/static/vendor"
ASSETS = {  # web/static/vendor/MANIFEST.json says where each came from
    "htmx": f"{VENDOR}/htmx-4.0.1/htmx.min.js",
    "hx-sse": f"{VENDOR}/htmx-4.0.1/ext/hx-sse.min.js",
    "pico": f"{VENDOR}/pico-2.1.1/pico.min.css",
}
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; "
                               "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; "
                               "base-uri 'self'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
REFRESH_THROTTLE = "1s"  # a page refreshed on a signal waits this long before the next refresh
TITLES = {401: "Sign-in needed", 403: "Not allowed", 404: "Not found", 409: "Conflict",
          422: "Invalid input", 503: "Not available now"}

templates = Environment(loader=PackageLoader("web", "templates"), autoescape=select_autoescape(),
                        trim_blocks=True, lstrip_blocks=True)
templates.globals["asset"] = ASSETS.__getitem__


def _clock(position: int) -> str:
    return f"as of position {position}, {datetime.now(UTC):%H:%M} UTC"


templates.globals["as_of"] = _clock


def render(request: Request, template: str, context: dict[str, Any], *, session: Session | None = None,
           status_code: int = 200, follows: Sequence[str] = ()) -> HTMLResponse:
    """A page; `follows` names the live topics (web/signals.py) on which the whole page refreshes
    itself (pages with regions of their own name their `topics` in `context` instead)."""
    if follows:
        kinds = dict.fromkeys(topic.partition(":")[0] for topic in follows)
        if context.get("position") is None:  # where the page's stream starts, and its "as of"
            context = {**context, "position": read_position(request.app.state.services)}
        context = {**context, "topics": list(follows),
                   "refresh": ", ".join(f"{kind} from:#live throttle:{REFRESH_THROTTLE}" for kind in kinds)}
    page = templates.get_template(template).render(
        request=request, session=session, csrf=session.csrf if session else None,
        books=session is not None and session.role in MAY["read the books"],  # positions link to /audit
        **context)
    return HTMLResponse(page, status_code=status_code, headers=SECURITY_HEADERS)


def error_page(request: Request, status: int, detail: str) -> HTMLResponse:
    return render(request, "error.html", {"status": status, "title": TITLES.get(status, "Error"),
                                          "detail": detail}, status_code=status)


def invalid_input(invalid: RequestValidationError) -> str:
    """What a malformed query, path or form parameter is told: each one by name with its rule."""
    def name(loc: Sequence[Any]) -> str:
        return ".".join(str(part) for part in loc if part not in ("query", "path", "body", "header"))

    return "; ".join(f"{name(e.get('loc', ())) or 'request'}: {e.get('msg', 'invalid')}"
                     for e in invalid.errors())


class PageRoute(APIRoute):
    """A page's route: its refusals are pages, not problem documents (a malformed parameter too:
    the 422 page naming it and its rule, where the JSON API answers a problem document)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page(request: Request) -> Response:
            try:
                return await handler(request)
            except auth.SignInRequired:
                return RedirectResponse("/signin", status_code=303)
            except auth.CrossSite:
                return error_page(request, 403, "this form was not sent from this site's own page")
            except DomainError as refused:
                return error_page(request, status_of(refused), refused.detail)
            except Refused as refused:
                return error_page(request, refused.status, refused.detail)
            except RequestValidationError as invalid:
                return error_page(request, 422, invalid_input(invalid))

        return page

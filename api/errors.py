"""RFC 9457 problem details, and the one table from domain exception to HTTP status.

Every refusal answers `application/problem+json` with `type`, `title`, `status`, `detail` and, where
an input is at fault, `errors: [{field, message}]`. A store that does not answer (a lost connection,
a pool that cannot connect) is 503, and every 503 says when to retry (`Retry-After`). Anything
unexpected is logged and answered 500 without internals; a 500 on any input is a bug.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from collections.abc import Iterator
from functools import lru_cache

import psycopg
from eventsourcing import persistence
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse
from starlette.routing import Match, compile_path

from domain import exceptions as d

log = logging.getLogger(__name__)

STATUS_BY_ERROR: tuple[tuple[type[d.DomainError], int], ...] = (
    (d.InvalidInput, 422),
    (d.NotFound, 404),
    (d.NotAllowed, 403),
    (d.Conflict, 409),
)

METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")
TITLES = {400: "Bad request", 401: "Unauthorized", 403: "Forbidden", 404: "Not found",
          405: "Method not allowed", 409: "Conflict", 413: "Payload too large",
          415: "Unsupported media type", 422: "Invalid input", 500: "Internal server error",
          503: "Service unavailable"}
RETRY_AFTER_SECONDS = 5  # what a 503 says when its raiser names no time of its own
# what a lost connection, a pool that cannot connect or a busy store raise: retry later, not a bug
UNAVAILABLE = (persistence.OperationalError, persistence.InterfaceError, psycopg.OperationalError,
               psycopg.InterfaceError)


def problem(status: int, detail: str, *, type_: str = "about:blank",
            errors: list[dict] | None = None, headers: dict | None = None,
            extra: dict | None = None) -> JSONResponse:
    """An RFC 9457 problem document; `extra` adds members (e.g. a refused close's differences)."""
    body: dict = {"type": type_, "title": TITLES.get(status, "Error"), "status": status,
                  "detail": _printable(detail), **(extra or {})}
    if errors:
        body["errors"] = [{k: _printable(v) for k, v in e.items()} for e in errors]
    if status == 503 and not any(k.lower() == "retry-after" for k in headers or {}):
        headers = {**(headers or {}), "Retry-After": str(RETRY_AFTER_SECONDS)}
    return JSONResponse(body, status_code=status, headers=headers,
                        media_type="application/problem+json")


def _printable(text: str) -> str:
    """Messages quote the input; an unpaired surrogate in it must not make the answer a 500."""
    return str(text).encode("utf-8", "backslashreplace").decode("utf-8")


class Refused(Exception):
    """An HTTP-level refusal raised by the API itself (auth, read waits)."""

    def __init__(self, status: int, detail: str, field: str | None = None,
                 headers: dict | None = None) -> None:
        super().__init__(detail)
        self.status, self.detail, self.field, self.headers = status, detail, field, headers


def refusal(exc: Refused, type_: str = "about:blank") -> JSONResponse:
    """The problem document of a Refused, for the exception handler and the ASGI layers alike."""
    errors = [{"field": exc.field, "message": exc.detail}] if exc.field else None
    detail = f"{exc.field}: {exc.detail}" if exc.field else exc.detail
    return problem(exc.status, detail, type_=type_, errors=errors, headers=exc.headers)


def store_unavailable(exc: BaseException) -> bool:
    """Whether `exc`, or what caused it, says the store cannot be reached now."""
    seen: BaseException | None = exc
    for _ in range(10):  # a cause chain is short; a cycle must not hang the error handler
        if seen is None:
            return False
        if isinstance(seen, UNAVAILABLE):
            return True
        if isinstance(seen, sqlite3.OperationalError) and "locked" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def unavailable() -> JSONResponse:
    """The 503 of a store that does not answer."""
    return problem(503, "the store does not answer now; retry later", type_="urn:goldsplit:unavailable",
                   headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


def status_of(exc: d.DomainError) -> int:
    """The HTTP status of a domain refusal (STATUS_BY_ERROR; any other refusal is a conflict)."""
    return next((status for cls, status in STATUS_BY_ERROR if isinstance(exc, cls)), 409)


def _slug(name: str) -> str:
    return "".join("-" + c.lower() if c.isupper() else c for c in name).lstrip("-")


def _field(loc: tuple) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def operations(app: FastAPI, path: str) -> Iterator[tuple[str, dict]]:
    """The OpenAPI operations of the app at `path`, by method, in the order routing tries them."""
    for template, by_method in app.openapi()["paths"].items():
        if _compiled(template).match(path):
            yield from by_method.items()


def allowed_methods(app: FastAPI, path: str) -> list[str]:
    """Every method the router sends to a route at `path`, whatever that route then answers (a
    POST of a policy kind none of the typed routes names reaches a route the document leaves out,
    and is 404). A path parameter may refuse a segment: an account id is never `regrade`, the
    action beside it, so PATCH /v1/accounts/regrade is 405."""
    return [method for method in METHODS if _routed(app, path, method)]


def _routed(app: FastAPI, path: str, method: str) -> bool:
    scope = {"type": "http", "path": path, "root_path": "", "method": method, "headers": []}
    return any(route.matches(scope)[0] == Match.FULL for route in app.router.routes)


@lru_cache(maxsize=512)
def _compiled(template: str) -> re.Pattern:
    return compile_path(template)[0]


def install(app: FastAPI) -> None:
    """Register the handlers that turn every failure into a problem document."""

    @app.exception_handler(d.DomainError)
    def domain_error(_: Request, exc: d.DomainError) -> JSONResponse:
        status = status_of(exc)
        errors = [{"field": exc.field, "message": exc.detail}] if exc.field else None
        detail = f"{exc.field}: {exc.detail}" if exc.field else exc.detail
        return problem(status, detail, type_=f"urn:goldsplit:{_slug(type(exc).__name__)}",
                       errors=errors)

    @app.exception_handler(Refused)
    def refused(_: Request, exc: Refused) -> JSONResponse:
        return refusal(exc)

    def lost_store(request: Request, exc: Exception) -> JSONResponse:
        log.warning("the store did not answer on %s %s: %s", request.method, request.url.path, exc)
        return unavailable()

    for error in UNAVAILABLE:
        app.add_exception_handler(error, lost_store)

    @app.exception_handler(RequestValidationError)
    def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"field": "body" if e.get("type") == "json_invalid" else _field(tuple(e.get("loc", ()))),
                   "message": e.get("msg", "invalid")}
                  for e in exc.errors()]
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        return problem(422, detail, type_="urn:goldsplit:invalid-input", errors=errors)

    @app.exception_handler(StarletteHTTPException)
    def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 405:  # the router names only its first route's methods
            allowed = ", ".join(allowed_methods(app, request.url.path)) or (exc.headers or {}).get("Allow", "")
            return problem(405, f"{request.method} is not allowed here; use {allowed}",
                           headers={"Allow": allowed})
        if exc.status_code == 400 and isinstance(exc.__cause__, (ValueError, RecursionError)):
            # FastAPI's answer to JSON it could not decode (not UTF-8, nested too deep, an integer
            # too long): the same 422 naming the body as any other body that is not JSON
            message = "is not JSON that can be read (not UTF-8, nested too deep or a number too long)"
            return problem(422, f"body: {message}", type_="urn:goldsplit:invalid-input",
                           errors=[{"field": "body", "message": message}])
        return problem(exc.status_code, str(exc.detail), headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    def unexpected(request: Request, exc: Exception) -> JSONResponse:
        if store_unavailable(exc):  # wrapped on its way up, or SQLite's own "database is locked"
            return lost_store(request, exc)
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return problem(500, "an unexpected error occurred; it has been logged")

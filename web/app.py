"""Mounts the web app on the API's FastAPI application: its pages at `/`, its live signals at
`/events`, its assets at `/static`."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from web import docs, events, pages
from web.screens import allocations, audit, cash, lists, money, opportunity, queues, reference


def install(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(packages=[("web", "static")]), name="static")
    app.include_router(events.router)
    for screens in (pages, opportunity, allocations, queues, audit, reference, money, cash, lists):
        app.include_router(screens.router)
    # /docs and /redoc with their assets from /static/vendor, not FastAPI's CDN (web/docs.py)
    app.router.routes[:] = [route for route in app.router.routes
                            if getattr(route, "path", None) not in docs.PATHS]
    app.include_router(docs.router)
    events.close_at_shutdown(app)

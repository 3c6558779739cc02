"""The API's documentation pages, /docs (Swagger UI) and /redoc (ReDoc), with their assets served
from this package (web/static/vendor) instead of FastAPI's default CDN.

Their Content-Security-Policy keeps what the bundles themselves ask for to this origin as well:
ReDoc's sidebar shows Redocly's logo from its CDN, which the browser then does not fetch (the
image hides itself when it fails).

ReDoc is the latest 2.x: ReDoc 3 is an ES module that reports to Redocly's telemetry unless told
not to and draws its icons from Redocly's CDN.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse

VENDOR = "/static/vendor"
SWAGGER_UI = f"{VENDOR}/swagger-ui-dist-5.35.0"  # web/static/vendor/MANIFEST.json
REDOC = f"{VENDOR}/redoc-2.5.4"
PATHS = DOCS, REDIRECT, REDOC_PATH = "/docs", "/docs/oauth2-redirect", "/redoc"  # FastAPI's defaults
POLICY = "connect-src 'self'; img-src 'self' data:; font-src 'self' data:; frame-ancestors 'none'"

router = APIRouter(include_in_schema=False)


def _sent(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = POLICY
    return page


@router.get(DOCS)
async def swagger_ui(request: Request) -> HTMLResponse:
    app, root = request.app, request.scope.get("root_path", "").rstrip("/")
    return _sent(get_swagger_ui_html(
        openapi_url=root + app.openapi_url, title=f"{app.title} - Swagger UI",
        swagger_js_url=f"{root}{SWAGGER_UI}/swagger-ui-bundle.js",
        swagger_css_url=f"{root}{SWAGGER_UI}/swagger-ui.css",
        swagger_favicon_url=f"{root}{SWAGGER_UI}/favicon-32x32.png",
        oauth2_redirect_url=root + REDIRECT, init_oauth=app.swagger_ui_init_oauth,
        # no badge from validator.swagger.io
        swagger_ui_parameters={**(app.swagger_ui_parameters or {}), "validatorUrl": None}))


@router.get(REDIRECT)
async def swagger_ui_redirect() -> HTMLResponse:
    return _sent(get_swagger_ui_oauth2_redirect_html())


@router.get(REDOC_PATH)
async def redoc(request: Request) -> HTMLResponse:
    app, root = request.app, request.scope.get("root_path", "").rstrip("/")
    return _sent(get_redoc_html(
        openapi_url=root + app.openapi_url, title=f"{app.title} - ReDoc",
        redoc_js_url=f"{root}{REDOC}/redoc.standalone.js",
        redoc_favicon_url=f"{root}{SWAGGER_UI}/favicon-32x32.png", with_google_fonts=False))

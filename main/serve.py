"""What `goldsplit serve` runs: the JSON API at /v1 with the web app beside it at /."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI

from api.app import create_app
from main.services import Services
from main.settings import Settings
from web.app import install


def signin_url(settings: Settings, code: str) -> str:
    """The link that redeems a sign-in code on the web app (GOLDSPLIT_PUBLIC_URL, or host and port)."""
    base = settings.public_url.rstrip("/") or f"http://{settings.host}:{settings.port}"
    return f"{base}/signin?code={code}"


def application(settings: Settings, services: Services | None = None,
                build: Callable[[], Services] | None = None) -> FastAPI:
    """The HTTP application over `services`, or over what `build()` makes when it starts."""
    app = create_app(settings, services=services, build=build)
    install(app)
    return app

"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from importlib import metadata

from fastapi import FastAPI

from api import errors, openapi
from api.idempotency import IdempotencyMiddleware
from api.limits import StrictInput
from api.routers import (
    accounts,
    allocations,
    asks,
    audit,
    calibration,
    disputes,
    members,
    opportunities,
    periods,
    policies,
    requests,
    system,
    tasks,
)
from api.services import Services, Settings


def create_app(settings: Settings | None = None, services: Services | None = None,
               build: Callable[[], Services] | None = None) -> FastAPI:
    """Build the HTTP API over `services`, or over what `build()` makes when it starts (and closes
    when it stops); the composition root (main/) provides either."""
    settings = settings or services.settings
    owned = services is None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if app.state.services is None:
            app.state.services = build()
        if settings.in_process_projections:
            app.state.services.runner.start(settings.projection_poll_seconds)
        yield
        if owned:
            app.state.services.close()
            app.state.services = None  # a later start builds them afresh
        else:
            app.state.services.runner.stop()

    app = FastAPI(title="goldsplit", lifespan=lifespan,
                  version=next((d.version for d in metadata.distributions(name="goldsplit")), "0+unknown"),
                  description="An event-sourced collaboration and incentive ledger for B2B "
                              "selling teams.")
    app.state.services = services
    errors.install(app)
    app.add_middleware(IdempotencyMiddleware, store=lambda: app.state.services.idempotency)
    # added last: runs first, checking who asks and the body before anything parses it
    app.add_middleware(StrictInput, secret=settings.secret)
    for module in (members, accounts, tasks, opportunities, asks, requests, allocations, policies,
                   calibration, audit, periods, disputes, system):
        app.include_router(module.router)
    openapi.install(app)
    return app

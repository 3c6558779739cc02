"""Request dependencies as Annotated aliases: the services, the actor, role checks, read waits."""

from __future__ import annotations

import logging
from typing import Annotated
from uuid import UUID, uuid5

from fastapi import Depends, Header, Query, Request

from api.auth import authenticate
from api.errors import Refused
from api.services import Services
from domain.application import Actor
from projections.runner import ProjectionStalled

log = logging.getLogger(__name__)
IDEMPOTENT_IDS = UUID("5b0c6f0e-3c55-4e0e-9d8a-6f1d2b7a9c31")


# The dependencies below are `async def` although they never wait: FastAPI runs a plain `def`
# dependency in the thread pool, and three hand-overs to a worker thread and back cost a request
# more than everything it does in them (a fifth of the API process's CPU under load).

async def get_services(request: Request) -> Services:
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(get_services)]


async def current_actor(request: Request, services: ServicesDep) -> Actor:
    return authenticate(request.scope["headers"], services.settings.secret)


ActorDep = Annotated[Actor, Depends(current_actor)]


def allow(*roles: str):
    """A dependency that lets only the given token roles through."""

    async def check(actor: ActorDep) -> Actor:
        if actor.role not in roles:
            raise Refused(403, f"the {actor.role} role may not do this; allowed: {', '.join(roles)}")
        return actor

    return Depends(check)


Writer = Annotated[Actor, allow("member", "lead", "admin")]
Finance = Annotated[Actor, allow("finance", "admin")]
Admin = Annotated[Actor, allow("admin")]

IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", include_in_schema=False)]


def created_id(actor: Actor, key: str | None) -> UUID | None:
    """The id of what a command creates, derived from its Idempotency-Key: a retry names the same."""
    return uuid5(IDEMPOTENT_IDS, f"{actor.member_id}:{key}") if key else None


After = Annotated[int | None, Query(ge=0, description="wait until the read model has this log "
                                                      "position; default the head of the log when "
                                                      "the read arrives")]


def wait_for(services: Services, after: int | None) -> None:
    """Fresh reads: block until the read models have processed log position `after`, by default
    the head of the log as the read arrives, so a read sees every write acknowledged before it."""
    head = services.app.recorder.max_notification_id() or 0
    if after is None:
        after = head
    elif after > head:
        raise Refused(422, f"position {after} is beyond the head of the log ({head})", field="after")
    retry = {"Retry-After": "1"}
    try:
        reached = services.runner.wait_for(after, timeout=services.settings.read_wait_seconds,
                                           catch_up=services.settings.in_process_projections)
    except ProjectionStalled as stall:
        raise Refused(503, str(stall), headers=retry) from None
    except Exception:  # the store went away while projecting: unready, not broken
        log.warning("projecting for a read failed", exc_info=True)
        raise Refused(503, "the read models cannot be brought up to date now; retry",
                      headers=retry) from None
    if not reached:
        raise Refused(503, f"the read models have not reached position {after} yet; retry",
                      headers=retry)

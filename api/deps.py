"""Request dependencies as Annotated aliases: the services, the actor, role checks, read waits."""

from __future__ import annotations

import logging
from typing import Annotated, Any
from uuid import UUID, uuid5

from fastapi import Depends, Header, Path, Query, Request
from starlette.convertors import StringConvertor, register_url_convertor

from api.auth import caller
from api.errors import Refused
from api.schemas import KEY, MEMBER, PERIOD, REGRADE
from api.services import Services
from domain.application import MAY, Actor
from domain.policy import TRIANGLE_ROLES
from projections.runner import ProjectionStalled

log = logging.getLogger(__name__)
IDEMPOTENT_IDS = UUID("5b0c6f0e-3c55-4e0e-9d8a-6f1d2b7a9c31")


# The dependencies below are `async def` although they never wait: FastAPI runs a plain `def`
# dependency in the thread pool, and three hand-overs to a worker thread and back cost a request
# more than everything it does in them.

async def get_services(request: Request) -> Services:
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(get_services)]


async def current_actor(request: Request) -> Actor:
    return caller(request.scope)


ActorDep = Annotated[Actor, Depends(current_actor)]


def allow(may: str):
    """A dependency that lets through only the token roles the domain's table allows (MAY)."""
    roles = MAY[may]

    async def check(actor: ActorDep) -> Actor:
        if actor.role not in roles:
            raise Refused(403, f"the {actor.role} role may not do this; allowed: {', '.join(roles)}")
        return actor

    return Depends(check)


Writer = Annotated[Actor, allow("work")]
Money = Annotated[Actor, allow("move money")]
Cash = Annotated[Actor, allow("record cash")]
PolicySetter = Annotated[Actor, allow("set policy")]
Admin = Annotated[Actor, allow("register members")]

IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", include_in_schema=False)]


def created_id(actor: Actor, key: str | None) -> UUID | None:
    """The id of what a command creates, derived from its Idempotency-Key: a retry names the same."""
    return uuid5(IDEMPOTENT_IDS, f"{actor.member_id}:{key}") if key else None


class _NotTheAction(StringConvertor):
    """A path segment naming an object, never the action a sibling path names (`regrade`): so
    PATCH /v1/accounts/regrade is 405, as Allow says, not an edit of an account called that."""

    regex = f"(?!{REGRADE}(?:/|$))[^/]+"


register_url_convertor("account", _NotTheAction())
register_url_convertor("opportunity", _NotTheAction())


# -- path and query parameters, each documented once ------------------------------------------------
# A malformed id names nothing that exists: the route answers 404 naming it, as for an unknown one,
# so the formats and patterns below are documented (what an id looks like), not checked first.

def _id(what: str) -> Any:
    return Path(description=f"the {what}'s id, a UUID", json_schema_extra={"format": "uuid"})


OpportunityId = Annotated[str, _id("opportunity")]
ContributionId = Annotated[str, _id("contribution")]
TaskId = Annotated[str, _id("task")]
RequestId = Annotated[str, _id("request")]
AskId = Annotated[str, _id("ask")]
AllocationId = Annotated[str, _id("allocation")]
DisputeId = Annotated[str, _id("dispute")]
MemberPath = Annotated[str, Path(description="a member's id", json_schema_extra={
    "pattern": MEMBER, "minLength": 1, "maxLength": 64})]
AccountPath = Annotated[str, Path(description="the account's id (a CRM id, or a UUID given at "
                                              f"registration); never {REGRADE}",
                                  json_schema_extra={"pattern": KEY, "not": {"enum": [".", "..", REGRADE]}})]
TriangleRolePath = Annotated[str, Path(description="the seat", json_schema_extra={"enum": list(TRIANGLE_ROLES)})]
Period = Annotated[str, Path(description="a month (2026-11) or a quarter (2026-Q4), from 2000",
                             json_schema_extra={"pattern": PERIOD})]


Search = Annotated[str | None, Query(max_length=200, description="part of the name, in any case "
                                                               "(blank: any)")]
Cursor = Annotated[str | None, Query(min_length=1, max_length=2048, pattern=r"^[A-Za-z0-9_-]+$",
                                     description="the `next` of the page before (opaque; leave out "
                                                 "for the first page)")]
Limit = Annotated[int, Query(ge=1, le=200, description="rows per page, 1 to 200")]

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

"""The page's live signals: one Server-Sent Events stream per page, signals only.

A page names its topics (`board:<opportunity id>`, `member:<member id>`) and the position it was
rendered at (`since`). The stream says "this topic changed" (`event: board`, `data: <id>`) with
`id:` the read models' position; the page then re-fetches its region through a route that applies
the reader's access rules, so nothing of the content travels on the stream. Each topic is
authorized like its page before the stream opens (404 for what the reader may not see).

Resuming: `Last-Event-ID` (or `since`, which a browser that lost the header still sends) is where
the client was; every topic that changed after it is signalled at once. A client ahead of the
read models (a rebuild reset them) gets `resync`; the projections stalled give `stalled`, and
`flowing` once they move again. Comments keep the connection open (FastAPI pings every 15 s).

The signal is read from the view store, so it is the same with projections in this process, in
a process of their own on PostgreSQL, or on SQLite: the stream polls the read models' position
and, when it moved, the documents of its topics.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated

import anyio
from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.sse import EventSourceResponse, ServerSentEvent

from api.deps import ServicesDep
from api.errors import Refused
from api.services import Services
from domain.application import Actor
from domain.exceptions import NotFound
from projections.allocations import VIEW as ALLOCATIONS
from projections.board import VIEW as BOARDS
from projections.members import VIEW as MEMBERS
from projections.members import department_key
from queries.access import readable_allocation, readable_board, require_own
from storage.sessions import Session
from web import auth

router = APIRouter(include_in_schema=False)
RETRY_MILLISECONDS = 3000
KINDS = ("board", "member", "allocation")


def stream_session(request: Request, services: ServicesDep) -> Session:
    session = auth.session_of(request, services)
    if session is None:
        raise Refused(401, "sign in first: the stream follows a signed-in page")
    return session


def _topics(services: Services, actor: Actor, topics: str) -> list[tuple[str, str]]:
    """The topics asked for, each one the reader may follow (or the refusal the page would give)."""
    watched = []
    for topic in dict.fromkeys(t for t in topics.split(",") if t):
        kind, _, key = topic.partition(":")
        if kind not in KINDS or not key:
            raise Refused(422, f"{topic!r} is not a topic; use board:<id>, member:<id> or "
                                "allocation:<id>", field="topics")
        try:
            if kind == "board":
                readable_board(services.views, key, actor)
            elif kind == "allocation":
                key = readable_allocation(services.views, key, actor)["id"]  # its document's key
            else:
                require_own(actor, key)
        except NotFound:
            raise Refused(404, f"no {kind} {key}", field="topics") from None
        watched.append((kind, key))
    if not watched:
        raise Refused(422, "name at least one topic", field="topics")
    return watched


def _position(services: Services) -> int:
    """How far every read model has read: a signal at it covers every topic's last change."""
    return min((services.views.position(p.name) for p in services.runner.projections), default=0)


def _changed_at(services: Services, kind: str, key: str) -> int:
    """The log position of the last event that changed a topic's document (0: none yet)."""
    view = {"board": BOARDS, "allocation": ALLOCATIONS}.get(kind, MEMBERS)
    doc = services.views.get(view, key) or {}
    changed = doc.get("position", 0)
    if kind == "member" and doc.get("department"):
        changed = max(changed, (services.views.get(MEMBERS, department_key(doc["department"])) or {})
                      .get("position", 0))
    return changed


def _look(services: Services, watched: list[tuple[str, str]], cursor: int) -> tuple[int, list, bool]:
    """(position, the topics changed after `cursor`, stalled), read in one go off the event loop."""
    position = _position(services)
    changed = [(kind, key) for kind, key in watched
               if position > cursor and _changed_at(services, kind, key) > cursor]
    return position, changed, services.runner.stalled is not None


async def stream_topics(services: ServicesDep, session: Annotated[Session, Depends(stream_session)],
                        topics: Annotated[str, Query(max_length=2000)]) -> list[tuple[str, str]]:
    """The page's topics, refused before the stream opens (a refusal inside it could not be one)."""
    return await anyio.to_thread.run_sync(_topics, services, auth.actor(session), topics)


@router.get("/events", response_class=EventSourceResponse)
async def events(services: ServicesDep, watched: Annotated[list, Depends(stream_topics)],
                 since: Annotated[int | None, Query(ge=0)] = None,
                 last_event_id: Annotated[str | None, Header()] = None) -> AsyncIterator[ServerSentEvent]:
    resumed = int(last_event_id) if last_event_id and last_event_id.isdigit() else since
    poll = max(services.settings.projection_poll_seconds, 0.05)
    async for signal in _signals(services, watched, resumed, poll):
        yield signal


async def _signals(services: Services, watched: list[tuple[str, str]], cursor: int | None,
                   poll: float) -> AsyncIterator[ServerSentEvent]:
    position = await anyio.to_thread.run_sync(_position, services)
    yield ServerSentEvent(comment="goldsplit live signals", retry=RETRY_MILLISECONDS)
    if cursor is None:
        cursor = position
    elif cursor > position:  # the read models were rebuilt behind the page: it reloads
        yield ServerSentEvent(event="resync", raw_data=str(position), id=str(position))
        cursor = position
    was_stalled = False
    while True:
        position, changed, stalled = await anyio.to_thread.run_sync(_look, services, watched, cursor)
        if stalled != was_stalled:
            yield ServerSentEvent(event="stalled" if stalled else "flowing", raw_data=str(position),
                                  id=str(cursor))
            was_stalled = stalled
        for kind, key in changed:
            yield ServerSentEvent(event=kind, raw_data=key, id=str(position))
        cursor = max(cursor, position)
        await asyncio.sleep(poll)

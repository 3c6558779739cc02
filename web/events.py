"""The page's live signals: one Server-Sent Events stream per page, signals only.

A page names its topics (`board:<opportunity id>`, `member:<member id>`, `boards`, …: see
web/signals.py) and the position it was rendered at (`since`). The stream says "this topic
changed" (`event: board`, `data: <id>`) with `id:` the read models' position; the page then
re-fetches its region through a route that applies the reader's access rules, so nothing of the
content travels on the stream. Each topic is authorized like its page before the stream opens
(404 for what the reader may not see).

Resuming: `Last-Event-ID` (or `since`, which a browser that lost the header still sends) is where
the client was; every topic that changed after it is signalled at once. A client ahead of the
read models (a rebuild reset them) gets `resync`; the projections stalled give `stalled`, and
`flowing` once they move again. A comment (`: ping`) keeps an idle connection open.

The signals come from the process's one watcher (web/signals.py), which reads the view store: the
same with projections in this process, in a process of their own on PostgreSQL (woken by the
store's NOTIFY), or on SQLite (polling).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request
from fastapi.responses import StreamingResponse
from fastapi.sse import ServerSentEvent, format_sse_event

from api.deps import ServicesDep
from api.errors import Refused
from api.services import Services
from domain.application import Actor
from domain.exceptions import NotFound
from queries.access import readable_allocation, readable_board, require_own
from storage.sessions import Session
from web import auth
from web.signals import DOCUMENTS, READ_MODELS, Signal, Signals, Topic

router = APIRouter(include_in_schema=False)
RETRY_MILLISECONDS = 3000
HEARTBEAT_SECONDS = 15.0  # a stream silent this long says `: ping` (proxies keep it open)
HEARTBEAT = ServerSentEvent(comment="ping")
HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}  # no proxy buffers a signal


def set_heartbeat(seconds: float) -> float:
    """Ping every idle stream of this process after `seconds` (a test shortens it); the previous value."""
    global HEARTBEAT_SECONDS
    previous, HEARTBEAT_SECONDS = HEARTBEAT_SECONDS, seconds
    return previous


def close_at_shutdown(app: FastAPI) -> None:
    """End the process's watcher when the app stops, before its services close under it."""
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[Any]:
        async with inner(app) as state:
            try:
                yield state
            finally:
                hub = getattr(app.state, "signals", None)
                if hub is not None:
                    await anyio.to_thread.run_sync(hub.close)

    app.router.lifespan_context = lifespan


def stream_session(request: Request, services: ServicesDep) -> Session:
    session = auth.session_of(request, services)
    if session is None:
        raise Refused(401, "sign in first: the stream follows a signed-in page")
    return session


def _topics(services: Services, actor: Actor, topics: str) -> list[Topic]:
    """The topics asked for, each one the reader may follow (or the refusal the page would give).

    A whole read model (`boards`, …) says only that something in it moved, never what: any
    signed-in reader may follow it, and the page it refreshes applies the reader's rules.
    """
    watched = []
    for topic in dict.fromkeys(t for t in topics.split(",") if t):
        kind, _, key = topic.partition(":")
        if kind in READ_MODELS and not key:
            watched.append((kind, ""))
            continue
        if kind not in DOCUMENTS or not key:
            raise Refused(422, f"{topic!r} is not a topic; use board:<id>, member:<id>, "
                               f"allocation:<id>, account:<id> or one of {', '.join(READ_MODELS)}",
                          field="topics")
        try:
            if kind == "board":
                readable_board(services.views, key, actor)
            elif kind == "allocation":
                key = readable_allocation(services.views, key, actor)["id"]  # its document's key
            elif kind == "account":
                services.queries.accounts.board(actor, key)
            else:
                require_own(actor, key)
        except NotFound:
            raise Refused(404, f"no {kind} {key}", field="topics") from None
        watched.append((kind, key))
    if not watched:
        raise Refused(422, "name at least one topic", field="topics")
    return watched


def signals_of(request: Request, services: ServicesDep) -> Signals:
    """The process's watcher over these services (a test's app may be built afresh)."""
    hub = getattr(request.app.state, "signals", None)
    if hub is None or hub.services is not services:
        hub = request.app.state.signals = Signals(services)
    return hub


async def stream_topics(services: ServicesDep, session: Annotated[Session, Depends(stream_session)],
                        topics: Annotated[str, Query(max_length=8000)]) -> list[Topic]:
    """The page's topics, refused before the stream opens (a refusal inside it could not be one)."""
    return await anyio.to_thread.run_sync(_topics, services, auth.actor(session), topics)


@router.get("/events", response_class=StreamingResponse)
async def events(hub: Annotated[Signals, Depends(signals_of)],
                 watched: Annotated[list[Topic], Depends(stream_topics)],
                 since: Annotated[int | None, Query(ge=0)] = None,
                 last_event_id: Annotated[str | None, Header()] = None) -> StreamingResponse:
    """The stream, written as a plain streaming response: FastAPI's own for Server-Sent Events
    passes each event through three tasks and costs about five times more CPU per event, which
    hundreds of open pages multiply."""
    resumed = int(last_event_id) if last_event_id and last_event_id.isdigit() else since
    return StreamingResponse(_sent(hub, watched, resumed), media_type="text/event-stream",
                             headers=HEADERS)


async def _sent(hub: Signals, watched: list[Topic], cursor: int | None) -> AsyncIterator[bytes]:
    """The stream's bytes. It watches from its first step (a response never sent watches nothing)
    and before its catch-up, so that no change falls between the two."""
    watch = hub.watch(watched)
    try:
        async for event in _signals(hub, watch.queue, watched, cursor):
            yield format_sse_event(data_str=event.raw_data, event=event.event, id=event.id,
                                   retry=event.retry, comment=event.comment)
    finally:
        hub.leave(watch)


async def _signals(hub: Signals, queue: asyncio.Queue[Signal], watched: list[Topic],
                   cursor: int | None) -> AsyncIterator[ServerSentEvent]:
    position = await anyio.to_thread.run_sync(hub.position)
    yield ServerSentEvent(comment="goldsplit live signals", retry=RETRY_MILLISECONDS)
    if hub.stalled:
        yield ServerSentEvent(event="stalled", raw_data=str(position), id=str(cursor or position))
    if cursor is None:
        cursor = position
    elif cursor > position:  # the read models were rebuilt behind the page: it reloads
        yield ServerSentEvent(event="resync", raw_data=str(position), id=str(position))
        cursor = position
    elif cursor < position:  # resuming: what changed while the page was away
        changed = await anyio.to_thread.run_sync(hub.changed, watched, cursor)
        for signal in _told(Signal(position, changed)):
            yield signal
        cursor = position
    while True:
        try:
            async with asyncio.timeout(HEARTBEAT_SECONDS):
                signal = await queue.get()
        except TimeoutError:
            yield HEARTBEAT
            continue
        if signal.resync:
            yield ServerSentEvent(event="resync", raw_data=str(signal.position), id=str(signal.position))
            cursor = signal.position
        elif signal.stalled is not None:
            yield ServerSentEvent(event="stalled" if signal.stalled else "flowing",
                                  raw_data=str(signal.position), id=str(cursor))
        elif signal.position > cursor:  # what the catch-up above already told is not told again
            for event in _told(signal):
                yield event
            cursor = signal.position


def _told(signal: Signal) -> list[ServerSentEvent]:
    return [ServerSentEvent(event=kind, raw_data=key, id=str(signal.position))
            for kind, key in signal.topics]

"""The live stream's heartbeat and its ids over real HTTP (uvicorn on a loopback port, httpx): a
quiet stream says nothing but its heartbeat comment (`: ping`), again and again, and the ids a page
sees never go backwards when it resumes from its Last-Event-ID (or `since`)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import uvicorn

from main.serve import application
from main.services import Services
from main.settings import Settings
from tests.builders import contribute, open_deal, register_team, seat_triangle
from tests.ledger import ALICE, BOB, LEAD
from web import events as stream

HEARTBEAT = 0.1  # seconds: the tests shorten the 15 s so that a few pings come at once
READ_SECONDS = 5.0  # no read waits longer: a stream that says nothing for this long fails the test


@dataclass
class Message:
    """One message of the stream (the lines up to a blank one), by field."""

    comments: list[str] = field(default_factory=list)
    event: str | None = None
    data: str | None = None
    id: str | None = None
    retry: str | None = None

    @property
    def heartbeat(self) -> bool:
        return self == Message(comments=["ping"])  # `: ping` and nothing else


def messages(response: httpx.Response) -> Iterator[Message]:
    message = Message()
    for line in response.iter_lines():
        if not line:
            yield message
            message = Message()
        elif line.startswith(":"):
            message.comments.append(line[1:].strip())
        else:
            name, _, value = line.partition(":")
            setattr(message, name, value.removeprefix(" "))


@dataclass
class Server:
    url: str
    services: Services

    def settle(self) -> None:
        """Wait until every read model has read the whole log (the stream's position is theirs)."""
        self.services.runner.wait_for(self.services.app.recorder.max_notification_id())


@pytest.fixture
def heartbeat() -> Iterator[float]:
    previous = stream.set_heartbeat(HEARTBEAT)
    yield HEARTBEAT
    assert stream.set_heartbeat(previous) == HEARTBEAT


@pytest.fixture
def server(tmp_path: Path, heartbeat: float) -> Iterator[Server]:
    """The web app over a fresh SQLite store (the team registered, bob on alice's deal), served by
    uvicorn in a thread on a free loopback port, its projections in process polling every 50 ms."""
    settings = Settings(database_url=f"sqlite:///{tmp_path}/web.db", secret="s", projection_poll_seconds=0.05,
                        access_log=False)
    services = Services.build(settings)
    register_team(services.app)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(application(settings, services=services), log_level="warning",
                                           access_log=False, timeout_graceful_shutdown=1))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.01)
    try:
        yield Server(f"http://127.0.0.1:{sock.getsockname()[1]}", services)
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
        services.close()
        assert not thread.is_alive(), "the server did not stop"


@pytest.fixture
def deal(server: Server) -> str:
    oid = open_deal(server.services.app, ALICE)
    seat_triangle(server.services.app, oid, LEAD, SR="bob")
    server.settle()
    return oid


@pytest.fixture
def bob(server: Server) -> Iterator[httpx.Client]:
    """bob's browser: a client holding his session's cookie."""
    with httpx.Client(base_url=server.url, timeout=READ_SECONDS) as client:
        code = server.services.sessions.issue_code("bob", "member", 60)
        assert client.get(f"/signin?code={code}", follow_redirects=False).status_code == 303
        yield client


@contextmanager
def opened(client: httpx.Client, topics: str, last_event_id: str | None = None,
           since: int | None = None) -> Iterator[Iterator[Message]]:
    """A stream of `topics`, past its greeting; the messages after it."""
    headers = {"Last-Event-ID": last_event_id} if last_event_id is not None else {}
    params = {"topics": topics} | ({"since": str(since)} if since is not None else {})
    with client.stream("GET", "/events", params=params, headers=headers) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        said = messages(response)
        assert next(said) == Message(comments=["goldsplit live signals"], retry=str(stream.RETRY_MILLISECONDS))
        yield said


def signals(said: Iterator[Message], count: int) -> list[Message]:
    """The next `count` messages that are not heartbeats, within READ_SECONDS."""
    got, deadline = [], time.monotonic() + READ_SECONDS
    for message in said:
        if not message.heartbeat:
            got.append(message)
            if len(got) == count:
                return got
        assert time.monotonic() < deadline, f"only heartbeats for {READ_SECONDS} s after {got}"
    raise AssertionError(f"the stream ended after {got}")


def test_the_heartbeat_is_every_15_seconds_unless_a_test_shortens_it() -> None:
    assert stream.HEARTBEAT_SECONDS == 15.0
    previous = stream.set_heartbeat(0.5)
    try:
        assert (previous, stream.HEARTBEAT_SECONDS) == (15.0, 0.5)
    finally:
        assert stream.set_heartbeat(previous) == 0.5
    assert stream.HEARTBEAT_SECONDS == 15.0


def test_a_quiet_stream_says_nothing_but_heartbeats(server: Server, deal: str, bob: httpx.Client) -> None:
    with opened(bob, f"board:{deal},member:bob") as said:
        started = time.monotonic()
        quiet = [next(said) for _ in range(3)]
        took = time.monotonic() - started

    assert all(message.heartbeat for message in quiet), quiet
    # three pings, each after HEARTBEAT of silence: not the default 15 s, and not sent back to back
    assert 3 * HEARTBEAT * 0.8 <= took < 3.0, took


def test_the_ids_never_go_backwards_across_resumes(server: Server, deal: str, bob: httpx.Client) -> None:
    app, topics, seen = server.services.app, f"board:{deal}", []

    with opened(bob, topics) as said:  # opened where the read models are: nothing to say yet
        assert next(said).heartbeat
        contribute(app, deal, BOB, "demo")
        (signal,) = signals(said, 1)
        assert (signal.event, signal.data) == ("board", deal)
        seen.append(int(signal.id))

    # the page was away while alice worked: back with its Last-Event-ID, it hears of it at once
    contribute(app, deal, ALICE, "visit")
    server.settle()
    with opened(bob, topics, last_event_id=str(seen[-1])) as said:
        (signal,) = signals(said, 1)
        assert (signal.event, signal.data) == ("board", deal)
        seen.append(int(signal.id))
        assert next(said).heartbeat  # and only once

    # nothing changed since: the resumed stream is quiet until something does, then says a later id
    with opened(bob, topics, last_event_id=str(seen[-1])) as said:
        assert [next(said).heartbeat for _ in range(2)] == [True, True]
        contribute(app, deal, BOB, "poc")
        (signal,) = signals(said, 1)
        seen.append(int(signal.id))

    # a browser that lost the header resumes with `since`; the header wins over a stale `since`
    contribute(app, deal, ALICE, "bid_document")
    server.settle()
    with opened(bob, topics, since=seen[-1]) as said:
        seen.append(int(signals(said, 1)[0].id))
    with opened(bob, topics, last_event_id=str(seen[-1]), since=seen[0]) as said:
        assert [next(said).heartbeat for _ in range(2)] == [True, True]

    assert seen == sorted(set(seen)) and len(seen) == 4, seen  # each resume's id after the one before

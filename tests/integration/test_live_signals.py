"""The process's one watcher behind the live pages (web/signals.py), on the embedded store and on
PostgreSQL: each open stream is told its own topics, the store is read once per topic however many
streams follow it, a rebuild tells every stream to reload, projections that stop in another
process are reported stalled, and on PostgreSQL the view store's NOTIFY wakes it at once."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from main.services import Services
from main.settings import Settings
from projections.board import VIEW as BOARDS
from tests.builders import contribute, open_deal, register_team, seat_triangle
from tests.conftest import SECRET
from tests.ledger import ALICE, BOB, LEAD
from web import signals
from web.signals import Signal, Signals, Watch

QUIET = 0.5  # a stream told nothing within this is told nothing


def run(body: Callable[[Signals], Coroutine[Any, Any, Any]], world: Services) -> Any:
    """An async test body given a watcher of its own, on a thread of its own (Playwright keeps a
    loop on the main thread); the watcher ends with it."""
    hub = Signals(world)
    try:
        with ThreadPoolExecutor(1) as thread:
            return thread.submit(asyncio.run, asyncio.wait_for(body(hub), timeout=20)).result()
    finally:
        hub.close()


async def told(watch: Watch, timeout: float = 5.0) -> Signal:
    return await asyncio.wait_for(watch.queue.get(), timeout)


async def nothing_for(watch: Watch) -> bool:
    try:
        await asyncio.wait_for(watch.queue.get(), QUIET)
    except TimeoutError:
        return True
    return False


def build(url: str, poll: float = 0.05) -> Services:
    services = Services.build(Settings(database_url=url, secret=SECRET, projection_poll_seconds=poll))
    register_team(services.app)
    return services


@pytest.fixture
def world(database_url: str) -> Iterator[Services]:
    with build(database_url) as services:
        services.runner.catch_up()
        yield services


def deal(world: Services) -> str:
    oid = open_deal(world.app, ALICE)
    seat_triangle(world.app, oid, LEAD, SR="bob")
    world.runner.catch_up()
    return oid


def test_each_stream_is_told_its_own_topics_and_each_topic_is_read_once(
        world: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    acme, other = deal(world), deal(world)
    reads: list[tuple[str, str]] = []
    get = world.views.get

    def counted(view: str, key: str) -> dict | None:
        if threading.current_thread().name == "goldsplit-signals":
            reads.append((view, key))
        return get(view, key)

    monkeypatch.setattr(world.views, "get", counted)

    async def body(hub: Signals) -> None:
        on_acme = [hub.watch([("board", acme)]) for _ in range(3)]
        on_other, on_boards = hub.watch([("board", other)]), hub.watch([("boards", "")])
        await asyncio.sleep(0.2)  # the watcher has looked once: what follows is a change
        reads.clear()
        contribute(world.app, acme, BOB, "visit")
        world.runner.catch_up()
        position = hub.position()
        for watch in on_acme:
            assert await told(watch) == Signal(position, [("board", acme)])
        assert await told(on_boards) == Signal(position, [("boards", "")])
        assert await nothing_for(on_other)
        assert reads.count((BOARDS, acme)) == 1, reads  # one read for three streams

    run(body, world)


def test_a_rebuild_tells_every_stream_to_reload(world: Services) -> None:
    acme = deal(world)

    async def body(hub: Signals) -> None:
        watch = hub.watch([("board", acme)])
        await asyncio.sleep(0.2)
        for projection in world.runner.projections:
            world.views.reset(projection.name, [])
        signal = await told(watch)
        assert signal.resync and signal.position < world.app.recorder.max_notification_id()

    run(body, world)


def test_projections_that_stop_in_another_process_are_reported_stalled_then_flowing(
        world: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(signals, "STALLED_AFTER_SECONDS", 0.3)
    acme = deal(world)

    async def body(hub: Signals) -> None:
        watch = hub.watch([("board", acme)])
        await asyncio.sleep(0.2)
        contribute(world.app, acme, BOB, "visit")  # and nobody projects it
        stalled = await told(watch)
        assert stalled.stalled is True
        world.runner.catch_up()
        assert (await told(watch)).stalled is False
        assert (await told(watch)).topics == [("board", acme)]

    run(body, world)


@pytest.mark.postgres
def test_on_postgresql_the_view_store_s_notify_wakes_the_watcher_at_once(postgres_url: str) -> None:
    with build(postgres_url, poll=30.0) as world:  # its poll would wait 30 s: a signal sooner is NOTIFY's
        world.runner.catch_up()
        acme = deal(world)

        async def body(hub: Signals) -> float:
            watch = hub.watch([("board", acme)])
            await asyncio.sleep(0.5)  # listening
            contribute(world.app, acme, BOB, "visit")
            start = asyncio.get_running_loop().time()
            await asyncio.to_thread(world.runner.catch_up)  # as another process's runner would
            assert (await told(watch, timeout=3.0)).topics == [("board", acme)]
            return asyncio.get_running_loop().time() - start

        assert run(body, world) < 3.0

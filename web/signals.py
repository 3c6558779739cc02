"""One watcher per process behind every open page's live stream.

The watcher is a thread that wakes when the read models commit — on PostgreSQL by LISTENing to the
view store's NOTIFY (`projections.store.CHANNEL`, sent by whichever process projects), elsewhere
by polling — and then asks the store once what changed: which views moved (`changes_after`), and
for the documents some stream follows in those views, whether each moved. Each open stream gets
only its own topics; so 500 streams on one deal cost one read of that deal's board per commit, not
500.

A topic is a document (`board:<id>`, `member:<id>`, `allocation:<id>`, `account:<id>`) or a whole
read model (`boards`, `allocations`, `accounts`, `members`, `payables`, `calibration`, `audit`), for
the pages that list or queue across documents.

Stalled: the projections in this process failed on an event (`runner.stalled`), or the log is
ahead of the read models and they have not moved for `STALLED_AFTER_SECONDS` (projections in
another process that stopped).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import psycopg

from api.services import Services
from projections.accounts import VIEW as ACCOUNTS
from projections.allocations import VIEW as ALLOCATIONS
from projections.audit import VIEW as AUDIT
from projections.board import VIEW as BOARDS
from projections.calibration import VIEW as CALIBRATION
from projections.members import VIEW as MEMBERS
from projections.members import department_key
from projections.payables import PAYABLE, PERIOD
from projections.store import CHANNEL

log = logging.getLogger(__name__)

DOCUMENTS = {"board": BOARDS, "member": MEMBERS, "allocation": ALLOCATIONS, "account": ACCOUNTS}
READ_MODELS = {"boards": (BOARDS,), "allocations": (ALLOCATIONS,), "accounts": (ACCOUNTS,),
               "members": (MEMBERS,), "payables": (PAYABLE, PERIOD), "calibration": (CALIBRATION,),
               "audit": (AUDIT,)}
STALLED_AFTER_SECONDS = 10.0  # behind the log this long without moving: the projections stopped
IDLE_SECONDS = 5.0  # the watcher ends after this long with no stream open
WAKE_CHECK_SECONDS = 0.25  # how long `close` may wait for a watcher blocked on NOTIFY
Topic = tuple[str, str]  # (kind, key); a whole read model's key is ""


def read_position(services: Services) -> int:
    """How far every read model has read: a signal at it covers every topic's last change, and a
    page read at it is "as of" it."""
    return min((services.views.position(p.name) for p in services.runner.projections), default=0)


@dataclass
class Signal:
    """What a stream is told: its topics that changed, at `position`; or a change of state."""

    position: int
    topics: list[Topic] = field(default_factory=list)
    stalled: bool | None = None  # True/False when the projections stopped or moved again
    resync: bool = False  # the read models went back (a rebuild): the page reloads


class Watch:
    """One open stream's subscription: its topics and the queue the watcher fills."""

    def __init__(self, topics: Iterable[Topic], loop: asyncio.AbstractEventLoop) -> None:
        self.topics = frozenset(topics)
        self.queue: asyncio.Queue[Signal] = asyncio.Queue()
        self.loop = loop


def tell(told: list[tuple[Watch, Signal]]) -> None:
    """From the watcher's thread: hand each signal to its stream, one wake-up per event loop (not
    one per stream: with hundreds of streams, the wake-ups would cost more than the signals)."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[Watch, Signal]]] = {}
    for watch, signal in told:
        by_loop.setdefault(watch.loop, []).append((watch, signal))
    for loop, batch in by_loop.items():
        try:
            loop.call_soon_threadsafe(_deliver, batch)
        except RuntimeError:  # the loop is closed: its streams are gone
            pass


def _deliver(batch: list[tuple[Watch, Signal]]) -> None:
    for watch, signal in batch:
        watch.queue.put_nowait(signal)


class Signals:
    """The process's watcher: started by the first stream, ended when none is left."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.poll = max(services.settings.projection_poll_seconds, 0.05)
        self._watches: set[Watch] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.stalled = False
        self.idle_seconds = IDLE_SECONDS
        self._closing = threading.Event()
        self._behind_since: float | None = None

    # -- for the streams (any thread) ----------------------------------------------------------

    def watch(self, topics: Iterable[Topic]) -> Watch:
        watch = Watch(topics, asyncio.get_running_loop())
        with self._lock:
            self._watches.add(watch)
            if self._thread is None or not self._thread.is_alive():
                self._closing.clear()
                self.idle_seconds = IDLE_SECONDS
                self._thread = threading.Thread(target=self._run, name="goldsplit-signals", daemon=True)
                self._thread.start()
        return watch

    def leave(self, watch: Watch) -> None:
        with self._lock:
            self._watches.discard(watch)

    def close(self) -> None:
        """Forget every stream: the watcher ends."""
        with self._lock:
            self._watches.clear()
            self.idle_seconds = 0.0
        self._closing.set()
        thread = self._thread
        if thread is not None:
            thread.join(5.0)

    def position(self) -> int:
        return read_position(self.services)

    def changed(self, topics: Iterable[Topic], after: int) -> list[Topic]:
        """The topics whose read model or document changed after position `after`."""
        views = self.services.views.changes_after(after)
        found = []
        for kind, key in topics:
            if kind in READ_MODELS:
                if any(view in views for view in READ_MODELS[kind]):
                    found.append((kind, key))
            elif DOCUMENTS[kind] in views and self._changed_at(kind, key) > after:
                found.append((kind, key))
        return found

    def _changed_at(self, kind: str, key: str) -> int:
        """The log position of the last event that changed a document (0: none yet)."""
        doc = self.services.views.get(DOCUMENTS[kind], key) or {}
        changed = doc.get("position") or 0
        if kind == "member" and doc.get("department"):
            department = self.services.views.get(MEMBERS, department_key(doc["department"])) or {}
            changed = max(changed, department.get("position") or 0)
        return changed

    # -- the watcher's thread ------------------------------------------------------------------

    def _run(self) -> None:
        listener: psycopg.Connection | None = None
        last, idle_since = None, None
        try:
            while True:
                with self._lock:
                    watches = list(self._watches)
                    if not watches:
                        idle_since = idle_since or time.monotonic()
                        if time.monotonic() - idle_since >= self.idle_seconds:
                            self._thread = None
                            return
                    else:
                        idle_since = None
                if not watches:  # nobody to tell: no reading, and the next stream starts afresh
                    last = None
                    self._closing.wait(self.poll)
                    continue
                try:
                    if listener is None:
                        listener = self._listen()
                    last = self._look(watches, last)
                    self._wait(listener)
                except Exception as error:  # a lost database must not end the live pages
                    log.warning("live signals: %s %s; retrying", type(error).__name__,
                                " ".join(str(error).split()))
                    if listener is not None:
                        listener.close()
                        listener = None
                    self._closing.wait(min(self.poll * 10, 2.0))
        finally:
            if listener is not None:
                listener.close()

    def _look(self, watches: list[Watch], last: int | None) -> int:
        """Tell each stream what changed since `last`; returns the position now."""
        position = self.position()
        if last is None:
            last = position
        stalled = self._stalled(position, last)
        told: list[tuple[Watch, Signal]] = []
        if stalled != self.stalled:
            self.stalled = stalled
            told += [(watch, Signal(position, stalled=stalled)) for watch in watches]
        if position < last:
            told += [(watch, Signal(position, resync=True)) for watch in watches]
        elif position > last:
            followed = set().union(*(watch.topics for watch in watches)) if watches else set()
            changed = set(self.changed(followed, last))
            for watch in watches:
                mine = sorted(watch.topics & changed)
                if mine:
                    told.append((watch, Signal(position, mine)))
        tell(told)
        return position

    def _stalled(self, position: int, last: int) -> bool:
        if self.services.runner.stalled is not None:
            return True
        if position != last:
            self._behind_since = None
            return False
        head = self.services.app.recorder.max_notification_id() or 0
        if head <= position:
            self._behind_since = None
            return False
        self._behind_since = self._behind_since or time.monotonic()
        return time.monotonic() - self._behind_since >= STALLED_AFTER_SECONDS

    def _listen(self) -> psycopg.Connection | None:
        db = self.services.db
        return db.listen(CHANNEL, "goldsplit-live-signals") if db.kind == "postgresql" else None

    def _wait(self, listener: psycopg.Connection | None) -> None:
        """Until the read models commit (NOTIFY), or one poll interval (a safety net for NOTIFY),
        or `close`."""
        if listener is None:
            self._closing.wait(self.poll)
            return
        deadline = time.monotonic() + max(self.poll, 1.0)
        while not self._closing.is_set() and time.monotonic() < deadline:
            woken = False
            for _ in listener.notifies(timeout=min(deadline - time.monotonic(), WAKE_CHECK_SECONDS),
                                       stop_after=1):
                woken = True  # run the generator out: it holds the connection's lock until it ends
            if woken:
                for _ in listener.notifies(timeout=0):  # one look covers every commit notified
                    pass
                return

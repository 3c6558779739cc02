"""Runs projections over the application's notification log, batch by batch, with tracking.

Every store is read the same way, with `select_notifications`, and a process that has just written
can call `catch_up()` to read its own writes without sleeping. What wakes the background follower
differs: on PostgreSQL the event store NOTIFYs a channel in every transaction that inserts events,
and the follower LISTENs on it (polling only as a safety net); SQLite and memory have no such
signal, so there it polls.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

import psycopg

from domain.application import Goldsplit
from domain.backoff import Backoff
from projections.accounts import AccountBoardProjection
from projections.allocations import AllocationProjection
from projections.audit import AuditChainProjection
from projections.base import Changes, Projection
from projections.board import BoardProjection
from projections.calibration import CalibrationProjection
from projections.members import MemberBoardProjection
from projections.payables import PayablesProjection
from projections.store import ViewStore
from storage.database import Database

log = logging.getLogger(__name__)

LISTEN_SAFETY_NET_SECONDS = 5.0  # with a live LISTEN, still catch up this often: a NOTIFY can be missed
LISTEN_BACKOFF_SECONDS = (0.5, 30.0)  # the first and the longest wait before reconnecting a lost LISTEN
_STOP_CHECK_SECONDS = 0.25  # how long stop() may wait for a follower blocked on NOTIFY


class ProjectionStalled(Exception):
    """An event the projections cannot process; they wait just before it."""

    def __init__(self, position: int, error: BaseException) -> None:
        super().__init__(f"the projections stopped before position {position}: "
                         f"{type(error).__name__}: {error}")
        self.position = position
        self.error = f"{type(error).__name__}: {error}"


class _EventFailed(Exception):
    def __init__(self, index: int, error: Exception) -> None:
        super().__init__(str(error))
        self.index, self.error = index, error


def default_projections() -> list[Projection]:
    return [BoardProjection(), AllocationProjection(), AccountBoardProjection(), MemberBoardProjection(),
            CalibrationProjection(), AuditChainProjection(), PayablesProjection()]


class ProjectionRunner:
    """Brings a set of projections up to the head of the log, exactly once per event."""

    def __init__(self, app: Goldsplit, store: ViewStore,
                 projections: Sequence[Projection] | None = None, batch_size: int = 500,
                 database: Database | None = None) -> None:
        self.app = app
        self.store = store
        self.projections = list(projections or default_projections())
        self.batch_size = batch_size
        self.database = database  # without one (or off PostgreSQL) the follower only polls
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.stalled: ProjectionStalled | None = None
        self._thread: threading.Thread | None = None
        self.listen_channel = self._listen_channel()
        self.listener_connected = False  # the follower holds a live LISTEN connection
        self.listener_reconnects = 0  # LISTEN connections opened again after one was lost
        self.failure: str | None = None  # why the follower's last catch-up failed, if it did
        self.caught_up_at = 0.0  # time.monotonic() of the follower's last catch-up that worked

    def position(self) -> int:
        """How far every projection of this runner has got (the lowest of them)."""
        return min(self.store.position(p.name) for p in self.projections)

    def catch_up(self) -> int:
        """Process every notification recorded so far; return the position reached.

        An event that cannot be decoded or projected stops the runner just before it (everything
        earlier is committed) and raises ProjectionStalled; `stalled` says where and why until a
        later attempt gets past it.
        """
        with self._lock:
            while True:
                checkpoints = self.store.checkpoints(p.name for p in self.projections)
                positions = {name: c.position for name, c in checkpoints.items()}
                start = min(positions.values())
                notifications = self.app.recorder.select_notifications(
                    start=start, limit=self.batch_size, inclusive_of_start=False)
                if not notifications:
                    return start
                whole = len(notifications) < self.batch_size  # the log's head, as of this read
                try:
                    changes = self._project(notifications, positions)
                except _EventFailed as failure:
                    if failure.index == 0:
                        self.stalled = ProjectionStalled(notifications[0].id, failure.error)
                        raise self.stalled from failure.error
                    notifications, whole = notifications[:failure.index], False
                    changes = self._project(notifications, positions)
                last = notifications[-1].id
                moves = {name: (c, last) for name, c in checkpoints.items() if c.position < last}
                fresh = [name for name, c in checkpoints.items() if c.position == 0]
                if not self.store.commit(moves, changes.with_rows(self.projections, fresh)):
                    log.info("another runner moved the projections first; re-reading")
                    continue
                if self.stalled is not None and last >= self.stalled.position:
                    self.stalled = None
                if whole:  # no need to ask again: what comes later wakes us (NOTIFY, or the poll)
                    return last

    def _project(self, notifications: Sequence[Any], positions: dict[str, int]) -> Changes:
        changes = Changes(self.store)
        for index, notification in enumerate(notifications):
            try:
                event = self.app.mapper.to_domain_event(notification)
                for projection in self.projections:
                    if notification.id > positions[projection.name]:
                        stored = getattr(projection, "reads_stored_events", False)
                        projection.process(notification if stored else event, notification.id, changes)
            except Exception as error:
                raise _EventFailed(index, error) from error
        return changes

    def wait_for(self, position: int, timeout: float = 5.0, catch_up: bool = True) -> bool:
        """Wait until the projections have processed `position` (read-your-writes).

        With `catch_up` this process does the projecting itself; without, it only watches the
        tracking positions that projection processes (`goldsplit project`) move.
        """
        deadline, backoff = time.monotonic() + timeout, Backoff(0.002, 0.05)
        while self._reached(position, catch_up) < position:
            if time.monotonic() > deadline:
                return False
            time.sleep(backoff.pause())
        return True

    def _reached(self, position: int, catch_up: bool) -> int:
        if not catch_up:
            return self.position()
        try:
            return self.catch_up()
        except ProjectionStalled as stall:
            if stall.position <= position:
                raise  # waiting would not help
            return stall.position - 1  # everything before the stall is committed

    def rebuild(self) -> int:
        """Forget every view of these projections and replay the log from position 1."""
        with self._lock:
            for projection in self.projections:
                self.store.reset(projection.name, projection.views)
        return self.catch_up()

    def start(self, interval: float = 0.2) -> None:
        """Follow the log in a background thread (events written by other processes too).

        On PostgreSQL the follower wakes on the event store's NOTIFY and polls only every
        max(`interval`, LISTEN_SAFETY_NET_SECONDS); elsewhere, and while its LISTEN connection is
        down, it polls every `interval`.
        """
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._follow, args=(interval,),
                                        name="projection-runner", daemon=True)
        self._thread.start()

    @property
    def following(self) -> bool:
        """Whether this runner follows the log in the background (`start`)."""
        return self._thread is not None

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _listen_channel(self) -> str | None:
        if self.database is None or self.database.kind != "postgresql":
            return None
        # PostgresApplicationRecorder NOTIFYs this channel (its events table's name) on every insert
        return getattr(self.app.recorder, "channel_name", None)

    def _follow(self, interval: float) -> None:
        if self.listen_channel is not None:
            self._follow_notifies(self.listen_channel, interval)
            return
        while not self._stop.is_set():
            self._stop.wait(interval if self._catch_up_logged() else _retry_pause(interval))

    def _catch_up_logged(self) -> bool:
        try:
            self.catch_up()
        except Exception as error:  # a lost connection must not end the runner: log and retry
            log.exception("projection runner failed; retrying")
            self.failure = f"{type(error).__name__}: {error}"
            return False
        self.failure, self.caught_up_at = None, time.monotonic()
        return True

    def _follow_notifies(self, channel: str, interval: float) -> None:
        """Catch up after every NOTIFY on `channel`, and supervise the connection that LISTENs.

        Catching up after LISTEN (not before) is what makes a reconnect lose nothing: an insert
        committed while no one listened is read by that catch-up, and every later one notifies.
        """
        safety_net = max(interval, LISTEN_SAFETY_NET_SECONDS)
        backoff, retry_at = Backoff(*LISTEN_BACKOFF_SECONDS), 0.0
        conn: psycopg.Connection | None = None
        connected_at, ever_connected = 0.0, False
        try:
            while not self._stop.is_set():
                if conn is None and time.monotonic() >= retry_at:
                    try:
                        conn = self._connect_listener(channel)
                    except Exception as error:
                        pause = backoff.pause()
                        log.warning("cannot LISTEN on %s (%s); polling every %s s, retrying in %.1f s",
                                    channel, " ".join(str(error).split()), interval, pause)
                        retry_at = time.monotonic() + pause
                    else:
                        if ever_connected:
                            self.listener_reconnects += 1
                            log.warning("listening on %s again (reconnect %d); catching up",
                                        channel, self.listener_reconnects)
                        ever_connected, connected_at = True, time.monotonic()
                        self.listener_connected = True
                caught_up = self._catch_up_logged()
                if conn is None:
                    pause = interval if caught_up else _retry_pause(interval)
                    self._stop.wait(min(pause, max(0.0, retry_at - time.monotonic())))
                    continue
                try:
                    # waiting on the LISTEN connection even after a failed catch-up notices its loss
                    self._await_notify(conn, safety_net if caught_up else _retry_pause(interval))
                except Exception as error:
                    log.warning("lost the LISTEN connection on %s (%s); reconnecting",
                                channel, " ".join(str(error).split()))
                    self.listener_connected = False
                    conn.close()
                    conn = None
                    if time.monotonic() - connected_at >= safety_net:
                        backoff.reset()  # it was healthy: retry now
                        retry_at = 0.0
                    else:  # lost again soon after connecting: no reconnecting in a tight loop
                        retry_at = time.monotonic() + backoff.pause()
        finally:
            self.listener_connected = False
            if conn is not None:
                conn.close()

    def _connect_listener(self, channel: str) -> psycopg.Connection:
        assert self.database is not None
        return self.database.listen(channel, "goldsplit-projection-listener")

    def _await_notify(self, conn: psycopg.Connection, timeout: float) -> None:
        """Return on the first NOTIFY (dropping any others already queued), at `timeout`, or on stop."""
        deadline = time.monotonic() + timeout
        while not self._stop.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            woken = False
            for _ in conn.notifies(timeout=min(remaining, _STOP_CHECK_SECONDS), stop_after=1):
                woken = True  # run the generator out: it holds the connection's lock until it ends
            if woken:
                for _ in conn.notifies(timeout=0):  # one catch-up reads the events of all of them
                    pass
                return


def _retry_pause(interval: float) -> float:
    return min(interval * 10, 5)

"""Runs projections over the application's notification log, batch by batch, with tracking.

Works the same on every store: it polls `select_notifications` (SQLite has no subscribe()), and a
process that has just written can call `catch_up()` to read its own writes without sleeping.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

from domain.application import Goldsplit
from projections.accounts import AccountBoardProjection
from projections.allocations import AllocationProjection
from projections.audit import AuditChainProjection
from projections.base import Changes, Projection
from projections.board import BoardProjection
from projections.calibration import CalibrationProjection
from projections.members import MemberBoardProjection
from projections.payables import PayablesProjection
from projections.store import ViewStore

log = logging.getLogger(__name__)


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
                 projections: Sequence[Projection] | None = None, batch_size: int = 500) -> None:
        self.app = app
        self.store = store
        self.projections = list(projections or default_projections())
        self.batch_size = batch_size
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.stalled: ProjectionStalled | None = None
        self._thread: threading.Thread | None = None

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
                try:
                    changes = self._project(notifications, positions)
                except _EventFailed as failure:
                    if failure.index == 0:
                        self.stalled = ProjectionStalled(notifications[0].id, failure.error)
                        raise self.stalled from failure.error
                    notifications = notifications[:failure.index]
                    changes = self._project(notifications, positions)
                last = notifications[-1].id
                moves = {name: (c, last) for name, c in checkpoints.items() if c.position < last}
                if not self.store.commit(moves, changes.written):
                    log.info("another runner moved the projections first; re-reading")
                elif self.stalled is not None and last >= self.stalled.position:
                    self.stalled = None

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
        deadline = time.monotonic() + timeout
        pause = 0.002
        while self._reached(position, catch_up) < position:
            if time.monotonic() > deadline:
                return False
            time.sleep(pause)
            pause = min(pause * 2, 0.05)
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
        """Follow the log in a background thread (events written by other processes too)."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._follow, args=(interval,),
                                        name="projection-runner", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _follow(self, interval: float) -> None:
        while not self._stop.is_set():
            try:
                self.catch_up()
            except Exception:  # a lost connection must not end the runner: log and retry
                log.exception("projection runner failed; retrying")
                self._stop.wait(min(interval * 10, 5))
            self._stop.wait(interval)

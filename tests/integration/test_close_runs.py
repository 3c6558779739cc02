"""A period close as it runs, seen from every replica (storage/closes.py behind web/screens/money.py
`Closes`), on the embedded store and on PostgreSQL: another process sees its progress and its end,
cannot start a second close of the same month meanwhile, and a run whose process died shows as
stopped, so that finance may close again."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from storage.closes import CloseRuns
from storage.database import Database
from web.screens import money
from web.screens.money import Closes


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def replicas(database_url: str) -> Iterator[tuple[Closes, Closes, Clock]]:
    """Two processes' closes over one database (each with its own connection), on one clock."""
    clock = Clock()
    first, second = Database(database_url), Database(database_url)
    yield Closes(CloseRuns(first, clock)), Closes(CloseRuns(second, clock)), clock
    first.close()
    second.close()


def until(check, seconds: float = 5.0):  # noqa: ANN001, ANN201 - a test's poll
    deadline = time.monotonic() + seconds
    while (found := check()) is None or not found:
        assert time.monotonic() < deadline, "not within 5 s"
        time.sleep(0.02)
    return found


def test_another_replica_sees_the_progress_and_the_end_and_may_not_start_the_same_month(
        replicas: tuple[Closes, Closes, Clock]) -> None:
    here, there, _ = replicas
    release = threading.Event()

    def work(progress) -> dict:  # noqa: ANN001
        progress(3, 12)
        release.wait(10)
        return {"cutoff": 12, "entries": 4}

    assert here.start("2026-03", "fiona", work) is None
    running = until(lambda: (run := there.get("2026-03")) and run.position == 3 and run)
    assert (running.status, running.cutoff, running.by) == ("running", 12, "fiona")
    busy = there.start("2026-Q1", "frank", work)
    assert busy is not None and busy.period == "2026-03"  # one close per month, across replicas

    release.set()
    closed = until(lambda: (run := there.get("2026-03")) and run.status == "closed" and run)
    assert closed.report == {"cutoff": 12, "entries": 4} and closed.position == 12


def test_a_close_whose_process_died_shows_as_stopped_and_the_month_may_be_closed_again(
        replicas: tuple[Closes, Closes, Clock], monkeypatch: pytest.MonkeyPatch) -> None:
    here, there, clock = replicas
    monkeypatch.setattr(money, "BEAT_SECONDS", 3600.0)  # the dead process beats no more
    stuck = threading.Event()

    def work(progress) -> dict:  # noqa: ANN001
        progress(5, 50)
        stuck.wait(10)
        return {"cutoff": 50}

    here.start("2026-03", "fiona", work)
    until(lambda: (run := there.get("2026-03")) and run.position == 5)
    clock.now += money.ALIVE_WITHIN_SECONDS + 1

    stopped = there.get("2026-03")
    assert (stopped.status, stopped.detail) == ("failed", money.STOPPED)
    assert there.start("2026-03", "frank", lambda progress: {"cutoff": 51}) is None
    assert until(lambda: (run := there.get("2026-03")) and run.status == "closed" and run).by == "frank"

"""Group commit on PostgreSQL: concurrent saves share a transaction, each gets its own notification
ids, and an optimistic-concurrency conflict fails only the save that lost the race."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import partial

import psycopg
import pytest
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import IntegrityError, Notification

from storage.database import Database
from storage.groupcommit import Factory, GroupCommitRecorder
from tests import ledger as shared

pytestmark = pytest.mark.postgres


class Tally(Aggregate):
    """A counter: each save below records two or three of its events."""

    @event("Started")
    def __init__(self, name: str) -> None:
        self.name = name
        self.count = 0

    @event("Counted")
    def count_up(self, by: int) -> None:
        self.count += by


class Ledger(Application):
    name = "ledger"


@pytest.fixture
def ledger(postgres_url: str) -> Iterator[Ledger]:
    app = Ledger(env=Database(postgres_url).eventsourcing_env())
    yield app
    app.close()


def recorder(app: Application) -> GroupCommitRecorder:
    assert isinstance(app.recorder, GroupCommitRecorder)
    return app.recorder


@contextmanager
def events_table_locked(postgres_url: str, app: Application) -> Iterator[Callable[[int], None]]:
    """Hold the events table lock (as a writer in another process would) until the block ends;
    yields a function that waits until `n` inserts are blocked on it."""
    table = recorder(app).events_table_name
    with psycopg.connect(postgres_url) as conn:
        conn.execute(f"LOCK TABLE {table} IN EXCLUSIVE MODE")

        def wait_blocked(n: int) -> None:
            deadline = time.monotonic() + 10
            with psycopg.connect(postgres_url, autocommit=True) as watcher:
                while watcher.execute("SELECT count(*) FROM pg_locks WHERE NOT granted AND "
                                      "relation = %s::regclass", (table,)).fetchone()[0] < n:
                    assert time.monotonic() < deadline, "no insert blocked on the table lock"
                    time.sleep(0.01)

        yield wait_blocked
        conn.rollback()


wait_until = partial(shared.wait_until, timeout=10.0, every=0.005)


def log_of(app: Application) -> list[tuple]:
    return [(n.id, n.originator_id, n.originator_version, n.topic, n.state)
            for n in app.recorder.select_notifications(1, 100_000)]


def saved(notifications: list[Notification]) -> list[tuple]:
    return sorted((n.id, n.originator_id, n.originator_version, n.topic, n.state)
                  for n in notifications)


def test_postgres_urls_select_the_group_commit_factory(ledger: Ledger) -> None:
    assert type(ledger.factory) is Factory
    assert isinstance(ledger.recorder, GroupCommitRecorder)


def test_many_threads_saving_at_once_all_succeed_with_contiguous_ids(ledger: Ledger) -> None:
    threads, rounds = 16, 20

    def work(n: int) -> list[list[Notification]]:
        out = []
        for r in range(rounds):
            tally = Tally(name=f"t{n}-{r}")
            tally.count_up(by=n)
            if r % 2:
                tally.count_up(by=r)
            out.append([recording.notification for recording in ledger.save(tally)])
        return out

    with ThreadPoolExecutor(threads) as pool:
        saves = [s for batch in pool.map(work, range(threads)) for s in batch]

    assert all(len(s) in (2, 3) for s in saves)
    for notifications in saves:  # a save's own events keep their order and are adjacent
        ids = [n.id for n in notifications]
        assert ids == list(range(ids[0], ids[0] + len(ids)))
    every = [n for s in saves for n in s]
    ids = sorted(n.id for n in every)
    assert ids == list(range(1, len(every) + 1))
    assert log_of(ledger) == saved(every)
    assert recorder(ledger).saves == threads * rounds
    assert recorder(ledger).transactions <= recorder(ledger).saves


def test_saves_queued_while_a_transaction_waits_are_written_in_one(ledger: Ledger,
                                                                   postgres_url: str) -> None:
    results: dict[int, list[Notification]] = {}

    def save(n: int) -> None:
        tally = Tally(name=f"t{n}")
        tally.count_up(by=n)
        results[n] = [r.notification for r in ledger.save(tally)]

    gang = [threading.Thread(target=save, args=(n,)) for n in range(12)]
    with events_table_locked(postgres_url, ledger) as wait_blocked:
        gang[0].start()
        wait_blocked(1)  # the first save holds the lead, blocked on the lock
        for thread in gang[1:]:
            thread.start()
        wait_until(lambda: recorder(ledger).saves == len(gang))
    for thread in gang:
        thread.join()

    assert recorder(ledger).transactions == 2  # the first alone, the eleven queued behind it in one
    every = [n for notifications in results.values() for n in notifications]
    assert sorted(n.id for n in every) == list(range(1, 2 * len(gang) + 1))
    for notifications in results.values():
        assert notifications[1].id == notifications[0].id + 1
    assert log_of(ledger) == saved(every)


def test_a_conflict_in_a_group_fails_only_the_save_that_lost(ledger: Ledger,
                                                             postgres_url: str) -> None:
    contested = Tally(name="contested")
    ledger.save(contested)
    first, second = ledger.repository.get(contested.id), ledger.repository.get(contested.id)
    first.count_up(by=1)
    second.count_up(by=2)  # the same version as first's event
    bystander = Tally(name="bystander")
    bystander.count_up(by=3)
    outcomes: dict[str, object] = {}

    def save(label: str, aggregate: Tally) -> None:
        try:
            outcomes[label] = [r.notification for r in ledger.save(aggregate)]
        except IntegrityError as error:
            outcomes[label] = error

    before = recorder(ledger).transactions
    with events_table_locked(postgres_url, ledger) as wait_blocked:
        leader = threading.Thread(target=save, args=("leader", Tally(name="leader")))
        leader.start()
        wait_blocked(1)
        group = []
        for label, aggregate in (("first", first), ("second", second), ("bystander", bystander)):
            queued = recorder(ledger).saves
            group.append(threading.Thread(target=save, args=(label, aggregate)))
            group[-1].start()
            wait_until(lambda queued=queued: recorder(ledger).saves == queued + 1)  # in this order
    for thread in (leader, *group):
        thread.join()

    assert [label for label, outcome in outcomes.items() if isinstance(outcome, IntegrityError)] \
        == ["second"]
    # the leader alone, the group of three that failed, then its three saves one by one
    assert recorder(ledger).transactions - before == 1 + 1 + 3
    assert ledger.repository.get(contested.id).count == 1
    assert ledger.repository.get(bystander.id).count == 3
    stored = [n for label in ("leader", "first", "bystander") for n in outcomes[label]]
    assert log_of(ledger)[1:] == saved(stored)  # after the contested aggregate's first event


def test_two_goldsplit_processes_saving_at_once_keep_the_log_whole(postgres_url: str) -> None:
    from domain.application import Actor, Goldsplit

    env = Database(postgres_url).eventsourcing_env()
    one, two = Goldsplit(env=env), Goldsplit(env=env)
    admin = Actor("root", "admin")
    try:
        def register(n: int) -> int:
            return (one if n % 2 else two).register_member(admin, f"m{n}", f"M {n}", "sales").position

        with ThreadPoolExecutor(12) as pool:
            positions = list(pool.map(register, range(96)))
    finally:
        one.close()
        two.close()
    assert len(set(positions)) == 96
    app = Goldsplit(env=env)
    try:
        log = app.recorder.select_notifications(1, 10_000)
    finally:
        app.close()
    assert [n.id for n in log] == list(range(1, len(log) + 1))
    assert {n.id for n in log} >= set(positions)

"""Group commit for the PostgreSQL event store: saves from concurrent threads share one transaction.

`PERSISTENCE_MODULE=storage.groupcommit` selects it: eventsourcing finds the one
infrastructure factory class in this module (so this module must not import any other).
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Sequence
from typing import Any

from eventsourcing import postgres
from eventsourcing.persistence import IntegrityError, StoredEvent
from psycopg import Cursor
from psycopg.rows import DictRow

from storage.answers import KEEP, Keeping, keep_parameters, keeping

Kept = Sequence[tuple[Keeping, int]]  # answers to keep, each with the index of its save's last event


class _Save:
    """One thread's insert_events call, waiting for its notification ids or its error."""

    __slots__ = ("events", "kept", "ids", "error", "leads", "woken")

    def __init__(self, events: Sequence[StoredEvent], kept: Keeping | None) -> None:
        self.events = events
        self.kept = kept
        self.ids: Sequence[int] | None = None
        self.error: BaseException | None = None
        self.leads = False  # told to lead the next group instead of given a result
        self.woken = threading.Event()


class GroupCommitRecorder(postgres.PostgresApplicationRecorder):
    """An application recorder that writes concurrent saves in one transaction.

    eventsourcing's recorder locks the events table in every insert transaction (so notification
    ids are issued in commit order and a reader never passes over a gap filled in later), which
    makes concurrent saves wait for each other, one commit each. Here a thread that saves while
    another thread's insert is in flight queues its events instead; when that insert returns, the
    first queued thread leads (`_lead`): it writes everything queued with the library's own insert
    (the same lock, NOTIFY and notification ids) in one transaction, then hands each waiting thread
    its own ids. Nobody waits for a timer: under light load every save is its own transaction;
    under load a transaction carries every save that arrived while the previous one committed.
    A keyed request's answer commits in the transaction of its save's events (storage/answers.py),
    alone or in a group.
    """

    def __init__(self, datastore: postgres.PostgresDatastore, *,
                 events_table_name: str = "stored_events") -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        self._queued: list[_Save] = []
        self._mutex = threading.Lock()
        self._leading = False
        self.saves = 0  # insert_events calls that went through the group path
        self.transactions = 0  # insert transactions they took (groups, plus fallbacks one by one)

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        kept = keeping(kwargs)
        if not stored_events or any(v is not None for v in kwargs.values()) \
                or self.datastore.enable_db_functions:  # (Application.save passes tracking=None)
            return super().insert_events(stored_events, kept=_kept([(stored_events, kept)]), **kwargs)
        mine = _Save(stored_events, kept)
        with self._mutex:
            self._queued.append(mine)
            self.saves += 1
            leading, self._leading = self._leading, True
        if leading:  # another thread is writing: wait for its hand-over or for our result
            mine.woken.wait()
        if mine.leads or not leading:
            self._lead()
        if mine.error is not None:
            raise mine.error
        return mine.ids

    def _lead(self) -> None:
        """Write everything queued in one transaction, then pass the lead to the next in line."""
        with self._mutex:
            group, self._queued = self._queued, []
        try:
            self._write(group)
        finally:
            with self._mutex:
                if self._queued:
                    successor = self._queued[0]
                    successor.leads = True
                    successor.woken.set()
                else:
                    self._leading = False
            for save in group:
                if save.ids is None and save.error is None:  # _write itself failed
                    save.error = RuntimeError("the group commit failed before this save was written")
                save.woken.set()

    def _write(self, group: list[_Save]) -> None:
        """Insert the group in one transaction. On an integrity error (a save lost an
        optimistic-concurrency race) each save is inserted again on its own, in the order they
        arrived, so only the conflicting one gets its IntegrityError; any other failure (after the
        library's own retries of connection errors) goes to every save: none of it was committed."""
        try:
            ids = self._insert(group)
        except IntegrityError as conflict:
            if len(group) == 1:
                group[0].error = conflict
                return
            for save in group:  # only the conflicting save(s) must fail
                try:
                    save.ids = self._insert([save])
                except Exception as error:
                    save.error = error
            return
        except Exception as error:
            for save in group:  # nothing of the group was committed
                save.error = error if save is group[0] else copy.copy(error)
            return
        start = 0
        for save in group:
            save.ids = ids[start:start + len(save.events)] if ids is not None else None
            start += len(save.events)

    def _insert(self, saves: list[_Save]) -> Sequence[int] | None:
        with self._mutex:
            self.transactions += 1
        return super().insert_events([e for save in saves for e in save.events],
                                     kept=_kept([(save.events, save.kept) for save in saves]))

    def _fetch_ids_after_insert_events(self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent],
                                       kept: Kept = (), **kwargs: Any) -> Sequence[int] | None:
        """The library's, then each keyed save's answer, in the transaction of its events."""
        ids = super()._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
        for keeping_, last in kept:
            curs.execute(KEEP.format(p="%s"), keep_parameters(keeping_, ids[last]))
        return ids


def _kept(saves: Sequence[tuple[Sequence[StoredEvent], Keeping | None]]) -> Kept:
    """The answers of the saves written together, with the index of each one's last event."""
    kept, end = [], 0
    for events, keeping_ in saves:
        end += len(events)
        if keeping_ is not None and events:
            kept.append((keeping_, end - 1))
    return kept


class Factory(postgres.PostgresFactory):
    """eventsourcing's PostgreSQL infrastructure, with the group-commit application recorder."""

    application_recorder_class = GroupCommitRecorder

"""The answers of keyed requests, kept in the application's database so a retry gets the first one.

`AnswerStore` reserves a key and stores its answer; the recorders write a keyed save's answer in
the transaction of its events (`KEYED`, `keeping`), so a crash between the two loses nothing.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from eventsourcing.persistence import StoredEvent
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor

from storage.database import Database

log = logging.getLogger(__name__)
PENDING = 0  # the status of a reserved key whose answer is not known yet
SCHEMA = ("CREATE TABLE IF NOT EXISTS goldsplit_idempotency ("
          " key TEXT PRIMARY KEY, request_hash TEXT NOT NULL, status INTEGER NOT NULL,"
          " body TEXT NOT NULL, content_type TEXT NOT NULL, reserved_at DOUBLE PRECISION NOT NULL)")
KEEP = ("UPDATE goldsplit_idempotency SET status = {p}, body = {p}, content_type = 'application/json' "
        "WHERE key = {p} AND request_hash = {p} AND status = 0")  # 0: PENDING


@dataclass(frozen=True)
class Keyed:
    """The request being served under a key: its answer's status if its command succeeds."""

    key: str
    request_hash: str
    status: int


KEYED: ContextVar[Keyed | None] = ContextVar("goldsplit_keyed_request", default=None)
Keeping = tuple[Keyed, Any]  # the request and its command's answer (a domain Recorded, position 0)


def keeping(kwargs: dict[str, Any]) -> Keeping | None:
    """Take the save's `answer` out of the recorder's kwargs: what to keep if the request is keyed."""
    answer = kwargs.pop("answer", None)
    keyed = KEYED.get()
    return (keyed, answer) if keyed is not None and answer is not None else None


def keep_parameters(kept: Keeping, position: int) -> tuple[Any, ...]:
    """The parameters of KEEP: the answer as the API renders it (FastAPI's compact JSON)."""
    keyed, answer = kept
    body = json.dumps(answer.at(position).document(), ensure_ascii=False, allow_nan=False,
                      separators=(",", ":"))
    return keyed.status, body, keyed.key, keyed.request_hash


class SQLiteAnsweringRecorder(SQLiteApplicationRecorder):
    """eventsourcing's SQLite application recorder, keeping a keyed request's answer with its events
    (selected by APPLICATION_RECORDER_TOPIC; storage/database.py)."""

    def _insert_events(self, c: SQLiteCursor, stored_events: Sequence[StoredEvent],
                       **kwargs: Any) -> Sequence[int] | None:
        kept = keeping(kwargs)
        ids = super()._insert_events(c, stored_events, **kwargs)
        if kept is not None and ids:
            c.execute(KEEP.format(p="?"), keep_parameters(kept, ids[-1]))
        return ids


class AnswerStore:
    """Reserved keys and their answers, by scoped key.

    A request with an `Idempotency-Key` reserves its key before it runs (`reserve`), and its answer
    is stored when it has been sent (`complete`). Between the two its events commit; a crash or a
    lost connection there would leave the key reserved with no answer. So the answer also travels
    with the events: the API marks the request as keyed (`KEYED`), the application hands each save
    the answer its command gives (`Goldsplit._saved`), and the event store's recorder writes that
    answer, with the log position of the save's last event, in the very transaction that inserts
    the events (`SQLiteAnsweringRecorder`, or `GroupCommitRecorder` on PostgreSQL). Either both
    commit or neither does: a retry finds the answer whatever happened after.
    """

    def __init__(self, db: Database, clock: Callable[[], float] = time.time,
                 takeover_seconds: float = 60.0) -> None:
        self.db = db
        self.clock = clock
        self.takeover_seconds = takeover_seconds  # a reservation whose process died is taken over
        self.kept = 0  # answers found kept with the events when the response was complete
        self.disagreements = 0  # ... that differed from the answer sent (a bug: logged)
        with db.transaction() as cur:
            cur.execute(SCHEMA)

    def reserve(self, key: str, request_hash: str) -> tuple[str, int, str, str] | None:
        """Reserve `key` for this request; or return what is already stored under it."""
        now = self.clock()
        with self.db.transaction() as cur:
            cur.execute("INSERT INTO goldsplit_idempotency (key, request_hash, status, body, "
                        "content_type, reserved_at) VALUES (?, ?, ?, '', '', ?) "
                        "ON CONFLICT (key) DO NOTHING", (key, request_hash, PENDING, now))
            if cur.rowcount == 1:
                return None
            cur.execute("UPDATE goldsplit_idempotency SET request_hash = ?, reserved_at = ? "
                        "WHERE key = ? AND status = ? AND reserved_at < ?",
                        (request_hash, now, key, PENDING, now - self.takeover_seconds))
            if cur.rowcount == 1:
                return None
            cur.execute("SELECT request_hash, status, body, content_type FROM goldsplit_idempotency "
                        "WHERE key = ?", (key,))
            return tuple(cur.fetchone())

    def complete(self, key: str, status: int, body: str, content_type: str) -> None:
        """Store the answer sent if it is a 2xx. Any other answer frees the key (a refusal, a
        failure, a lost race), unless the command's answer was kept with its events: then the
        events committed, and a retry gets that answer."""
        with self.db.transaction() as cur:
            if not 200 <= status < 300:
                cur.execute("DELETE FROM goldsplit_idempotency WHERE key = ? AND status = ?",
                            (key, PENDING))
                return
            cur.execute("SELECT status, body FROM goldsplit_idempotency WHERE key = ?", (key,))
            row = cur.fetchone()
            if row is not None and row[0] != PENDING:
                self.kept += 1
                if (row[0], json.loads(row[1])) != (status, _json(body)):
                    self.disagreements += 1
                    log.warning("the answer kept with the events (%s %s) is not the one sent (%s %s)",
                                row[0], row[1][:200], status, body[:200])
            cur.execute("UPDATE goldsplit_idempotency SET status = ?, body = ?, content_type = ? "
                        "WHERE key = ?", (status, body, content_type, key))


def _json(body: str) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return body

"""Reading the whole log fast, and replaying the aggregates money depends on, for period close
(books/close.py): `stored_events` reads the log, `Replay` rebuilds the aggregates.
"""

from __future__ import annotations

import contextlib
import inspect
import queue
import threading
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any
from uuid import UUID

from eventsourcing.domain import CanInitAggregate, decorated_funcs
from eventsourcing.persistence import Notification
from eventsourcing.utils import resolve_topic

from domain.aggregates import Allocation, Dispute, Opportunity, Period, PolicyBook

MONEY = (Opportunity, Allocation, Dispute, Period, PolicyBook)  # what the close's checks read
KEPT = (Period, PolicyBook)  # few, and read by any deal: never let go
BATCH = 5000  # notifications per read where there is no server-side cursor
FETCH = 10_000  # rows per round trip of the server-side cursor
Row = tuple[int, str, int, str, bytes]
Ends = dict[str, int]  # originator id -> its last position up to the cut-off
Check = Callable[[Any, int, Any, Callable[[UUID], Any]], None]
_UNSEEN = object()


@contextmanager
def stored_events(app: Any, cutoff: int, progress: Callable[[int, int], None] | None = None
                  ) -> Iterator[tuple[Iterator[Row], Ends | None]]:
    """Every stored event at positions 1..cutoff in log order, as plain tuples (position, originator
    id text, version, topic, state bytes), and each aggregate's last position (None where the store
    cannot say it cheaply).

    On PostgreSQL the rows come through one binary server-side cursor (`_from_postgres`; a
    Notification object per row, as the recorder makes them, cost more than the rest of the read),
    and the last positions from one GROUP BY; elsewhere the recorder reads batch by batch. `Replay`
    uses the last positions twice: an aggregate leaves memory once nothing after it in the log can
    read it, so memory follows the deals in flight, not the length of the log; and an opportunity
    with no allocation up to the cut-off (open, lost, won after it) is not replayed at all.
    """
    from eventsourcing.postgres import PostgresApplicationRecorder

    recorder = app.recorder
    if not isinstance(recorder, PostgresApplicationRecorder):
        yield _from_recorder(recorder, cutoff, progress), None
        return
    with recorder.datastore.get_connection() as conn, conn.transaction():
        ends = _last_positions(conn, recorder.datastore.schema, recorder.events_table_name, cutoff)
        rows = _from_postgres(conn, recorder.datastore.schema, recorder.events_table_name, cutoff,
                              progress)
        try:
            yield rows, ends
        finally:
            rows.close()  # its reader thread is done with the connection before the connection goes


def _last_positions(conn: Any, schema: str, table: str, cutoff: int) -> Ends:
    from psycopg import sql
    from psycopg.rows import tuple_row

    with conn.cursor(row_factory=tuple_row) as cur:
        cur.execute(sql.SQL("SELECT originator_id::text, max(notification_id) FROM {} "
                            "WHERE notification_id <= %s GROUP BY originator_id"
                            ).format(sql.Identifier(schema, table)), (cutoff,))
        return dict(cur.fetchall())


def _from_postgres(conn: Any, schema: str, table: str, cutoff: int,
                   progress: Callable[[int, int], None] | None) -> Generator[Row, None, None]:
    """The rows through a server-side cursor, fetched by a thread one batch ahead: PostgreSQL
    prepares the next batch while this one is replayed."""
    from psycopg import sql
    from psycopg.rows import tuple_row

    batches: queue.Queue[list[Row] | Exception] = queue.Queue(maxsize=2)
    stop = threading.Event()

    def fetch() -> None:
        try:
            with conn.cursor("goldsplit_close_replay", binary=True, row_factory=tuple_row) as cur:
                cur.execute(sql.SQL("SELECT notification_id, originator_id::text, originator_version, "
                                    "topic, state FROM {} WHERE notification_id <= %s "
                                    "ORDER BY notification_id").format(sql.Identifier(schema, table)),
                            (cutoff,))
                while not stop.is_set():
                    batch = cur.fetchmany(FETCH)
                    _hand_over(batches, batch, stop)
                    if not batch:
                        return
        except Exception as error:  # raised again in the replaying thread
            _hand_over(batches, error, stop)

    reader = threading.Thread(target=fetch, name="close-replay-reader", daemon=True)
    reader.start()
    try:
        while True:
            batch = batches.get()
            if isinstance(batch, Exception):
                raise batch
            if not batch:
                return
            yield from batch
            if progress:
                progress(batch[-1][0], cutoff)
    finally:
        stop.set()
        while reader.is_alive():  # let a reader waiting to hand over a batch see the stop
            with contextlib.suppress(queue.Empty):
                batches.get(timeout=0.05)
        reader.join()


def _hand_over(batches: queue.Queue, item: Any, stop: threading.Event) -> None:
    while not stop.is_set():
        with contextlib.suppress(queue.Full):
            batches.put(item, timeout=0.05)
            return


def _from_recorder(recorder: Any, cutoff: int,
                   progress: Callable[[int, int], None] | None) -> Iterator[Row]:
    position = 0
    while position < cutoff:
        batch = recorder.select_notifications(position, BATCH, stop=cutoff, inclusive_of_start=False)
        if not batch:
            return
        for n in batch:
            yield n.id, str(n.originator_id), n.originator_version, n.topic, n.state
        position = batch[-1].id
        if progress:
            progress(position, cutoff)


class Replay:
    """The aggregates MONEY in fresh memory, from their stored events in log order, by the domain's
    own code.

    Created events and allocation events (whose event objects the checks read) go the library's
    way (`_by_mapper`); every other event of MONEY, on a store without cipher or compressor, is
    applied without making the event object (`_by_method`). The events of the other aggregates (members, accounts, tasks, support
    requests) are not decoded: no number depends on them, and the close still hashes them into the
    audit chain, so any change to any of them refuses it. A topic that names no event class, and an
    event of MONEY that does not replay, are differences of their own.

    `check(event, position, aggregate before it, get)` runs before each allocation event is
    applied. An event that does not replay is appended to `differences` (where: replay).
    """

    def __init__(self, app: Any, ends: Ends | None, check: Check, differences: list[dict]) -> None:
        self.mapper = app.mapper
        self.ends = ends
        self.check = check
        self.differences = differences
        self.aggregates: dict[str, Any] = {}
        self._handlers: dict[str, Callable[[int, str, int, bytes], None] | None] = {}
        self._leaving: dict[int, list[str]] = {}  # position -> aggregates to let go after it
        self._money = tuple(f"{a.__module__}:{a.__qualname__}." for a in MONEY)
        self._plain = self.mapper.cipher is None and self.mapper.compressor is None
        self._unread: set[str] = set()  # opportunities with no allocation up to the cut-off

    def get(self, aggregate_id: UUID | None) -> Any:
        return None if aggregate_id is None else self.aggregates.get(str(aggregate_id))

    def periods(self) -> list[Period]:
        return [a for a in self.aggregates.values() if isinstance(a, Period)]

    def apply(self, position: int, originator_id: str, version: int, topic: str, state: bytes) -> None:
        try:
            handler = self._handlers.get(topic, _UNSEEN)
            if handler is _UNSEEN:
                handler = self._handlers[topic] = self._handler(topic)
            if handler is not None and originator_id not in self._unread:
                handler(position, originator_id, version, state)
        except Exception as error:  # a stored event that does not replay is a difference, not a crash
            self.differences.append({"where": "replay", "position": position,
                                     "detail": f"{type(error).__name__}: {error}"})
        if self.ends is not None:
            if self.ends.get(originator_id) == position:
                self._unread.discard(originator_id)
                self._last_event_of(originator_id, position)
            if position in self._leaving:
                for leaving in self._leaving.pop(position):
                    self.aggregates.pop(leaving, None)

    def _handler(self, topic: str) -> Callable[[int, str, int, bytes], None] | None:
        """How to replay the events of one topic (None: hashed only). Raises for an unknown topic."""
        cls = resolve_topic(topic)
        if not topic.startswith(self._money):
            return None
        if issubclass(cls, Opportunity.Event) and issubclass(cls, CanInitAggregate):
            return partial(self._opened, topic)
        func = decorated_funcs.get(cls)
        if func is None or issubclass(cls, (CanInitAggregate, Allocation.Event)) or not self._plain \
                or getattr(cls, "class_version", 1) != 1:
            return partial(self._by_mapper, topic)
        return partial(self._by_method, topic, func, frozenset(inspect.signature(func).parameters))

    def _opened(self, topic: str, position: int, originator_id: str, version: int, state: bytes) -> None:
        """An opportunity that never gets an allocation (up to the cut-off) is not replayed: no
        number depends on it. Its events are hashed into the chain all the same."""
        if self.ends is not None and str(Allocation.create_id(UUID(originator_id))) not in self.ends:
            self._unread.add(originator_id)
        else:
            self._by_mapper(topic, position, originator_id, version, state)

    def _by_mapper(self, topic: str, position: int, originator_id: str, version: int,
                   state: bytes) -> None:
        """The library's way: the mapper makes the event, the event mutates the aggregate."""
        event = self.mapper.to_domain_event(Notification(
            id=position, originator_id=UUID(originator_id), originator_version=version, topic=topic,
            state=state))
        before = self.aggregates.get(originator_id)
        if isinstance(event, Allocation.Event):
            self.check(event, position, before, self.get)
        self.aggregates[originator_id] = event.mutate(before)

    def _by_method(self, topic: str, func: Callable[..., None], names: frozenset[str], position: int,
                   originator_id: str, version: int, state: bytes) -> None:
        """What the event's mutate does, without making the event: check the version, call the
        @event method with the values of the state it names, move version and modified_on.
        Anything unusual (no aggregate, a version out of turn, a state to upcast, no timestamp)
        goes the library's way, which also says what is wrong in its own words."""
        aggregate = self.aggregates.get(originator_id)
        if aggregate is None or version != aggregate.version + 1:
            return self._by_mapper(topic, position, originator_id, version, state)
        try:
            kwargs = self.mapper.transcoder.decode(state)
        except Exception:
            return self._by_mapper(topic, position, originator_id, version, state)
        if type(kwargs) is not dict or "class_version" in kwargs or "timestamp" not in kwargs:
            return self._by_mapper(topic, position, originator_id, version, state)
        timestamp = kwargs.pop("timestamp")
        func(aggregate, **(kwargs if kwargs.keys() <= names else
                           {k: v for k, v in kwargs.items() if k in names}))
        aggregate.version = version
        aggregate.modified_on = timestamp
        return None

    def _last_event_of(self, originator_id: str, position: int) -> None:
        """The aggregate has no event after this one; let it go once nothing can read it: an
        opportunity after its allocation's last event, a dispute after its allocation's."""
        aggregate = self.aggregates.get(originator_id)
        if aggregate is None or isinstance(aggregate, KEPT):
            return
        until = position
        if isinstance(aggregate, Opportunity):
            until = max(until, self.ends.get(str(Allocation.create_id(aggregate.id)), 0))
        elif isinstance(aggregate, Dispute):
            until = max(until, self.ends.get(str(aggregate.allocation_id), 0))
        self._leaving.setdefault(until, []).append(originator_id)


"""What a projection is: a name, the views it owns, and a pure-ish `process` over one event."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from functools import singledispatchmethod
from typing import Any

from domain.aggregates import Ask, Dispute, Opportunity
from projections.store import ViewStore

COMPLETE = "~complete"  # the key that marks a rows' view as holding every document's row (with_rows)

# the status a decision leaves its subject in, by the event that records it
STATUS_AFTER: dict[type, str] = {
    Dispute.Rejected: "rejected", Dispute.Upheld: "upheld",
    Ask.Approved: "approved", Ask.Rejected: "rejected",
    Opportunity.ContributionConfirmed: "confirmed", Opportunity.ContributionReversed: "reversed",
}


def happened_at(event: Any) -> str:
    """When an event happened by the application's clock (its `at`), else by its timestamp (events
    recorded before they carried `at`)."""
    return getattr(event, "at", None) or event.timestamp.isoformat()


class Changes:
    """The documents one batch has read and written, over the store; committed as one transaction."""

    def __init__(self, store: ViewStore) -> None:
        self._store = store
        self.written: dict[tuple[str, str], dict] = {}

    def get(self, view: str, key: str) -> dict | None:
        if (view, key) in self.written:
            return self.written[(view, key)]
        return self._store.get(view, key)

    def put(self, view: str, key: str, doc: dict) -> None:
        self.written[(view, key)] = doc

    def with_rows(self, projections: Iterable[Projection],
                  from_start: Iterable[str] = ()) -> dict[tuple[str, str], dict]:
        """What to commit: the written documents and, for each one a projection lists
        (`Projection.rows`), its row in the list view, made from the document as it ends the batch.
        A projection that reads `from_start` (the log's first event: a new store, or a rebuild)
        marks its rows' view COMPLETE: it will hold a row for every document (a store from before
        the rows has some, but not all, until it is rebuilt)."""
        projections = list(projections)
        listed = {view: how for projection in projections for view, how in projection.rows.items()}
        written = dict(self.written)
        starting = set(from_start)
        for projection in projections:
            if projection.name in starting:
                for rows_view, _ in projection.rows.values():
                    written[(rows_view, COMPLETE)] = {"complete": True}
        for (view, key), doc in self.written.items():
            if view in listed:
                rows_view, row = listed[view]
                if (found := row(key, doc)) is not None:
                    written[(rows_view, key)] = found
        return written

    def link(self, view: str, child: str, field: str, parent: str) -> str:
        """Record in the link view `view` that `child` (the id of an aggregate whose first event
        names its parent) belongs to `parent`: the document `{field: parent}`. Answers `parent`."""
        self.put(view, child, {field: parent})
        return parent

    def parent(self, view: str, child: str, field: str) -> str | None:
        """The parent `link` recorded for `child` (None when none was: its first event was not seen)."""
        doc = self.get(view, child)
        return None if doc is None else doc[field]


class on_event(singledispatchmethod):  # noqa: N801 - used as a decorator, as its base is
    """`functools.singledispatchmethod` on the event's class, without the wrapper Python 3.11 builds
    at every call (a large share of the time projecting took)."""

    def __get__(self, obj: Any, cls: type | None = None) -> Any:
        if obj is None:
            return self
        dispatch = self.dispatcher.dispatch
        return lambda event, *args: dispatch(event.__class__)(obj, event, *args)


class Projection(ABC):
    """A read model: `process` turns one event at one log position into document changes.

    Projections dispatch on the event's class with `on_event`: one handler per event class, a no-op
    for the rest (a handler for an aggregate's `Event` base catches its events that have none of
    their own)."""

    name: str
    views: tuple[str, ...]
    # a view whose documents the lists page through -> (its rows' view, the row of one document,
    # None for a document that is no row); the rows' view is one of `views`, so a rebuild resets it
    rows: dict[str, tuple[str, Callable[[str, dict], dict | None]]] = {}

    @abstractmethod
    def process(self, event: Any, position: int, changes: Changes) -> None:
        """Apply one event. Events the projection does not know are ignored (tracking still moves)."""

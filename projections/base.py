"""What a projection is: a name, the views it owns, and a pure-ish `process` over one event."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from projections.store import ViewStore


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


class Projection(ABC):
    """A read model: `process` turns one event at one log position into document changes."""

    name: str
    views: tuple[str, ...]

    @abstractmethod
    def process(self, event: Any, position: int, changes: Changes) -> None:
        """Apply one event. Events the projection does not know are ignored (tracking still moves)."""

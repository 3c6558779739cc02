"""The view store: JSON documents by (view, key), and one tracking position per projection.

Contract (tests/unit/test_view_store.py runs it on SQLite and PostgreSQL):
- `commit(tracking, changes)` writes every changed document and every projection's new position in
  one transaction, and only if each projection's stored position is still the one the batch started
  from; otherwise it writes nothing and returns False (another runner got there first). So an event
  takes effect exactly once, and a runner killed at any moment resumes where the store says.
- `reset(projection, views)` forgets a projection's documents and position, for a rebuild from 1.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping

from projections.database import Database

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS goldsplit_views ("
    " view TEXT NOT NULL, key TEXT NOT NULL, doc TEXT NOT NULL, PRIMARY KEY (view, key))",
    "CREATE TABLE IF NOT EXISTS goldsplit_tracking ("
    " projection TEXT PRIMARY KEY, position BIGINT NOT NULL)",
)


def _dump(doc: Mapping) -> str:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"))


class ViewStore:
    """Read models and their tracking positions in the application's database."""

    def __init__(self, db: Database) -> None:
        self.db = db
        with db.transaction() as cur:
            for statement in SCHEMA:
                cur.execute(statement)

    def get(self, view: str, key: str) -> dict | None:
        with self.db.transaction() as cur:
            cur.execute("SELECT doc FROM goldsplit_views WHERE view = ? AND key = ?", (view, key))
            row = cur.fetchone()
        return json.loads(row[0]) if row else None

    def all(self, view: str) -> dict[str, dict]:
        with self.db.transaction() as cur:
            cur.execute("SELECT key, doc FROM goldsplit_views WHERE view = ? ORDER BY key", (view,))
            return {key: json.loads(doc) for key, doc in cur.fetchall()}

    def position(self, projection: str) -> int:
        with self.db.transaction() as cur:
            cur.execute("SELECT position FROM goldsplit_tracking WHERE projection = ?", (projection,))
            row = cur.fetchone()
        return int(row[0]) if row else 0

    def commit(self, tracking: Mapping[str, tuple[int, int]],
               changes: Mapping[tuple[str, str], dict]) -> bool:
        """Write `changes` and move each projection from its old to its new position, atomically.

        Returns False, having written nothing, when another runner moved a position first.
        """
        try:
            with self.db.transaction() as cur:
                for projection, (old, new) in tracking.items():
                    if old == 0:
                        cur.execute("INSERT INTO goldsplit_tracking (projection, position) "
                                    "VALUES (?, ?) ON CONFLICT (projection) DO NOTHING",
                                    (projection, new))
                    else:
                        cur.execute("UPDATE goldsplit_tracking SET position = ? "
                                    "WHERE projection = ? AND position = ?", (new, projection, old))
                    if cur.rowcount != 1:
                        raise _Overtaken
                for (view, key), doc in changes.items():
                    cur.execute("INSERT INTO goldsplit_views (view, key, doc) VALUES (?, ?, ?) "
                                "ON CONFLICT (view, key) DO UPDATE SET doc = excluded.doc",
                                (view, key, _dump(doc)))
        except _Overtaken:
            return False
        return True

    def reset(self, projection: str, views: Iterable[str]) -> None:
        with self.db.transaction() as cur:
            cur.execute("DELETE FROM goldsplit_tracking WHERE projection = ?", (projection,))
            for view in views:
                cur.execute("DELETE FROM goldsplit_views WHERE view = ?", (view,))


class _Overtaken(Exception):
    """Another runner moved the tracking position first; the transaction rolls back."""

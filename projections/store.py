"""The view store: JSON documents by (view, key), and one tracking position per projection.

Contract (tests/unit/test_view_store.py runs it on SQLite and PostgreSQL):
- `checkpoints(names)` says where each projection is: its position and its generation.
- `commit(moves, changes)` writes every changed document and moves every projection from the
  checkpoint its batch started from to a new position, in one transaction, and only if each
  projection is still at that checkpoint; otherwise it writes nothing and returns False (another
  runner got there first). So an event takes effect exactly once, and a runner killed at any
  moment resumes where the store says.
- every commit also notes, per view it wrote, the highest position it moved to (`changes_after`),
  so a reader can tell which views changed since a position without reading their documents; on
  PostgreSQL it NOTIFYs `CHANNEL` in the same transaction (delivered at commit, to every process).
- `reset(projection, views)` forgets a projection's documents, sets its position to 0 and starts a
  new generation, so a runner that read a checkpoint before the reset can never commit after it,
  even when the rebuild passes the very same position.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from storage.database import Database

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS goldsplit_views ("
    " view TEXT NOT NULL, key TEXT NOT NULL, doc TEXT NOT NULL, PRIMARY KEY (view, key))",
    "CREATE TABLE IF NOT EXISTS goldsplit_tracking ("
    " projection TEXT PRIMARY KEY, position BIGINT NOT NULL, generation BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS goldsplit_view_changes (view TEXT PRIMARY KEY, position BIGINT NOT NULL)",
)
CHANNEL = "goldsplit_views"  # NOTIFYed at every commit of the read models (PostgreSQL)


@dataclass(frozen=True)
class Checkpoint:
    """Where a projection is: the last log position it processed, in which generation."""

    position: int
    generation: int = 0


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
        if "\x00" in key:  # no stored key has one, and PostgreSQL refuses NUL in a query's text
            return None
        rows = self.db.read("SELECT doc FROM goldsplit_views WHERE view = ? AND key = ?", (view, key))
        return json.loads(rows[0][0]) if rows else None

    def all(self, view: str) -> dict[str, dict]:
        rows = self.db.read("SELECT key, doc FROM goldsplit_views WHERE view = ? ORDER BY key", (view,))
        return {key: json.loads(doc) for key, doc in rows}

    def position(self, projection: str) -> int:
        rows = self.db.read("SELECT position FROM goldsplit_tracking WHERE projection = ?", (projection,))
        return int(rows[0][0]) if rows else 0

    def positions(self) -> dict[str, int]:
        """Every tracked position: the projections', and the relay's (`relay:<topic>`)."""
        rows = self.db.read("SELECT projection, position FROM goldsplit_tracking ORDER BY projection")
        return {name: int(position) for name, position in rows}

    def changes_after(self, position: int) -> dict[str, int]:
        """The views written after `position`, each with the highest position a commit moved it to."""
        rows = self.db.read("SELECT view, position FROM goldsplit_view_changes WHERE position > ?",
                            (position,))
        return {view: int(at) for view, at in rows}

    def checkpoints(self, projections: Iterable[str]) -> dict[str, Checkpoint]:
        with self.db.transaction() as cur:
            found = {}
            for projection in projections:
                cur.execute("INSERT INTO goldsplit_tracking (projection, position, generation) "
                            "VALUES (?, 0, 0) ON CONFLICT (projection) DO NOTHING", (projection,))
                cur.execute("SELECT position, generation FROM goldsplit_tracking "
                            "WHERE projection = ?", (projection,))
                position, generation = cur.fetchone()
                found[projection] = Checkpoint(int(position), int(generation))
        return found

    def commit(self, moves: Mapping[str, tuple[Checkpoint, int]],
               changes: Mapping[tuple[str, str], dict]) -> bool:
        """Write `changes` and move each projection from its checkpoint to a new position, atomically.

        Returns False, having written nothing, when another runner moved a projection first.
        """
        try:
            with self.db.transaction() as cur:
                for projection, (start, new) in moves.items():
                    cur.execute("UPDATE goldsplit_tracking SET position = ? WHERE projection = ? "
                                "AND position = ? AND generation = ?",
                                (new, projection, start.position, start.generation))
                    if cur.rowcount != 1:
                        raise _Overtaken
                for (view, key), doc in changes.items():
                    cur.execute("INSERT INTO goldsplit_views (view, key, doc) VALUES (?, ?, ?) "
                                "ON CONFLICT (view, key) DO UPDATE SET doc = excluded.doc",
                                (view, key, _dump(doc)))
                moved_to = max((new for _, new in moves.values()), default=0)
                for view in sorted({view for view, _ in changes}):
                    cur.execute("INSERT INTO goldsplit_view_changes (view, position) VALUES (?, ?) "
                                "ON CONFLICT (view) DO UPDATE SET position = excluded.position "
                                "WHERE goldsplit_view_changes.position < excluded.position",
                                (view, moved_to))
                if changes and self.db.kind == "postgresql":
                    cur.execute(f"NOTIFY {CHANNEL}")
        except _Overtaken:
            return False
        return True

    def reset(self, projection: str, views: Iterable[str]) -> None:
        with self.db.transaction() as cur:
            cur.execute("UPDATE goldsplit_tracking SET position = 0, generation = generation + 1 "
                        "WHERE projection = ?", (projection,))
            for view in views:
                cur.execute("DELETE FROM goldsplit_views WHERE view = ?", (view,))
                cur.execute("DELETE FROM goldsplit_view_changes WHERE view = ?", (view,))


class _Overtaken(Exception):
    """Another runner moved the tracking position first; the transaction rolls back."""
